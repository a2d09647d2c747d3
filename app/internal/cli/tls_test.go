package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/config"
	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/testenv"
)

type staticSecrets map[string]string

func (s staticSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v := s[aws.ToString(in.SecretId)]
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

// newCA returns a self-signed CA and a function issuing server certificates
// from it.
func newCA(t *testing.T, name string) (caPEM []byte, issue func(ips ...net.IP) (certPEM, keyPEM []byte)) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	issue = func(ips ...net.IP) ([]byte, []byte) {
		skey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		st := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "db"}, IPAddresses: ips,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		sder, err := x509.CreateCertificate(rand.Reader, st, ca, &skey.PublicKey, key)
		require.NoError(t, err)
		kder, err := x509.MarshalECPrivateKey(skey)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sder}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	return caPEM, issue
}

// TestVerifyFullAgainstTheCABundle turns TLS on in the throwaway server with
// a certificate from a private CA (as RDS's are), then builds the app's
// connection from a secret the way serve does: with the CA's bundle it
// connects over TLS; with another CA's bundle, or a host name the
// certificate does not name, it is refused. What `sslmode=require` would
// not have caught.
func TestVerifyFullAgainstTheCABundle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rdsCA, issue := newCA(t, "Amazon RDS test Root CA")
	otherCA, _ := newCA(t, "Someone else's CA")
	cert, key := issue(net.ParseIP("127.0.0.1"))

	data := filepath.Join(env.PG.Dir(), "data")
	st, err := os.Stat(data)
	require.NoError(t, err)
	for name, b := range map[string][]byte{"server.crt": cert, "server.key": key} {
		p := filepath.Join(data, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			require.NoError(t, os.Chown(p, int(sys.Uid), int(sys.Gid)), "the server's user must own its key")
		}
	}
	superURL := env.Database(t)
	conn, err := pgx.Connect(ctx, superURL)
	require.NoError(t, err)
	for _, s := range []string{"ALTER SYSTEM SET ssl_cert_file = 'server.crt'", "ALTER SYSTEM SET ssl_key_file = 'server.key'", "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"} {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	conn.Close(ctx)

	bundle := func(name string, pemBytes []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pemBytes, 0o644))
		return p
	}
	good, bad := bundle("rds-ca.pem", rdsCA), bundle("other-ca.pem", otherCA)
	u, err := url.Parse(superURL)
	require.NoError(t, err)
	const appARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-app-AbCdEf"

	connect := func(host, caFile string) error {
		secret, _ := json.Marshal(map[string]string{"host": host, "port": u.Port(), "username": testenv.AppRoleName, "password": "unused-on-trusted-loopback", "dbname": u.Path[1:]})
		vars := map[string]string{
			"SURGE_DATABASE_APP_SECRET_ARN": appARN, "SURGE_DATABASE_SSLROOTCERT": caFile, // SSLMODE: the default, verify-full
			"SURGE_REDIS_URL": "redis://127.0.0.1:1/0", "SURGE_ADMIN_TOKEN": testenv.AdminToken,
		}
		cfg, err := config.Load(getenv(vars), config.Serve)
		require.NoError(t, err)
		require.NoError(t, config.ResolveSecrets(ctx, &cfg, staticSecrets{appARN: string(secret)}))
		pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: 1})
		require.NoError(t, err)
		defer pool.Close()
		var ssl bool
		if err := pool.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
			return err
		}
		if !ssl {
			t.Errorf("connected without TLS to %s", host)
		}
		return nil
	}
	require.Eventually(t, func() bool { return connect("127.0.0.1", good) == nil }, 10*time.Second, 100*time.Millisecond,
		"the RDS-like bundle verifies the server (TLS on after the reload)")
	err = connect("127.0.0.1", bad)
	if assert.Error(t, err, "another CA's bundle must be refused") {
		assert.Contains(t, err.Error(), "certificate")
	}
	err = connect("localhost", good)
	if assert.Error(t, err, "a host name the certificate does not name must be refused") {
		assert.Contains(t, err.Error(), "certificate")
	}
}
