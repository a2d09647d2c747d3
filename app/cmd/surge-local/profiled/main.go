// Command profiled is the surge binary plus net/http/pprof, for the rush
// benchmark's CPU and allocation profiles (bench/cmd/rush -pprof). It runs
// exactly the app's code path (app/internal/cli) and only adds a pprof
// listener on SURGE_PPROF_ADDR (loopback only); the product binary
// (app/cmd/surge) stays without it.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/surge-dev/surge/app/internal/cli"
)

func main() {
	if addr := os.Getenv("SURGE_PPROF_ADDR"); addr != "" {
		if err := servePprof(addr); err != nil {
			fmt.Fprintln(os.Stderr, "profiled:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "surge:", err)
		os.Exit(1)
	}
}

// servePprof listens on a loopback address only: profiles expose internals.
func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("SURGE_PPROF_ADDR must be a loopback address, got %q", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return nil
}
