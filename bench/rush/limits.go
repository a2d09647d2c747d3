package rush

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// raiseFileLimit makes sure this process (and the servers it starts, which
// inherit the limit) may open need descriptors: it raises the soft limit,
// and the hard one when allowed (root, up to fs.nr_open), or says what to do.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	want := lim
	want.Cur = need
	if want.Max < need {
		want.Max = need
		if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < need {
				want.Cur, want.Max = n, n
			}
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil || want.Cur < need {
		return fmt.Errorf("one connection per student needs %d open files, the limit is %d (hard %d) and cannot be raised here: raise it (ulimit -n), use fewer -students or -clients pool", need, lim.Cur, lim.Max)
	}
	return nil
}
