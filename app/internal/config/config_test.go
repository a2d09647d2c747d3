package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/redisconn"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func minimal() map[string]string {
	return map[string]string{
		"SURGE_DATABASE_URL": "postgres://u:p@db:5432/surge",
		"SURGE_REDIS_URL":    "redis://cache:6379/0",
		"SURGE_ADMIN_TOKEN":  "secret-token-0123456789abcdefghijkl",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(minimal()), Serve)
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.ListenAddr, "SURGE_LISTEN_ADDR default")
	assert.Equal(t, "127.0.0.1:9090", c.MetricsAddr, "SURGE_METRICS_ADDR default")
	assert.True(t, c.CookieSecure, "SURGE_COOKIE_SECURE default")
	assert.Equal(t, 12, c.BcryptCost, "SURGE_PASSWORD_HASH=default cost")
	assert.Equal(t, 500, c.AdmitBatch, "SURGE_ADMIT_BATCH default")
	assert.Equal(t, 50*time.Millisecond, c.AdmitInterval, "SURGE_ADMIT_INTERVAL default")
	assert.Equal(t, 5*time.Second, c.AdmitLease, "SURGE_ADMIT_LEASE default")
	assert.Equal(t, 20*time.Second, c.DrainTimeout, "SURGE_DRAIN_TIMEOUT default")
	assert.Equal(t, 1000, c.MaxInflight, "SURGE_MAX_INFLIGHT default")
	assert.Equal(t, 4*time.Second, c.MaxWait, "SURGE_MAX_WAIT default")
	assert.Equal(t, 10000, c.MaxWaiters, "SURGE_MAX_WAITERS default")
	assert.Equal(t, time.Second, c.OverloadWait, "SURGE_OVERLOAD_WAIT default")
	assert.Empty(t, c.DatabaseReadURL, "read URL defaults to the writer (empty)")
	assert.Equal(t, redisconn.Standalone, c.RedisMode, "SURGE_REDIS_MODE default")
}

// TestRedisMode: the same URL (or secret) reaches a standalone Redis or a
// cluster's configuration endpoint; any other mode, or a prefix that would
// override the keys' hash tags, is a listed problem.
func TestRedisMode(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		mode redisconn.Mode
		want string // "" = valid
	}{
		{name: "standalone", vars: map[string]string{"SURGE_REDIS_MODE": "standalone"}, mode: redisconn.Standalone},
		{name: "cluster", vars: map[string]string{"SURGE_REDIS_MODE": "cluster"}, mode: redisconn.Cluster},
		{name: "cluster with a secret", vars: map[string]string{"SURGE_REDIS_MODE": "cluster", "SURGE_REDIS_URL": "",
			"SURGE_REDIS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:cache"}, mode: redisconn.Cluster},
		{name: "unknown mode", vars: map[string]string{"SURGE_REDIS_MODE": "sentinel"}, want: `SURGE_REDIS_MODE: "sentinel" is not standalone or cluster`},
		{name: "mode is case sensitive", vars: map[string]string{"SURGE_REDIS_MODE": "Cluster"}, want: "SURGE_REDIS_MODE"},
		{name: "brace in the prefix", vars: map[string]string{"SURGE_REDIS_PREFIX": "app{1}:"}, want: "SURGE_REDIS_PREFIX"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := minimal()
			for k, v := range tc.vars {
				m[k] = v
			}
			c, err := Load(env(m), Serve)
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.mode, c.RedisMode)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadOverrides(t *testing.T) {
	m := minimal()
	for k, v := range map[string]string{
		"SURGE_LISTEN_ADDR": "127.0.0.1:0", "SURGE_COOKIE_SECURE": "false", "SURGE_PASSWORD_HASH": "fast",
		"SURGE_ADMIT_BATCH": "50", "SURGE_ADMIT_INTERVAL": "10ms", "SURGE_ADMIT_LEASE": "2s",
		"SURGE_DRAIN_TIMEOUT": "3s", "SURGE_MAX_INFLIGHT": "7", "SURGE_DATABASE_READ_URL": "postgresql://u:p@replica/surge",
		"SURGE_METRICS_ADDR": "off",
	} {
		m[k] = v
	}
	c, err := Load(env(m), Serve)
	require.NoError(t, err)
	assert.False(t, c.CookieSecure)
	assert.Equal(t, 4, c.BcryptCost, "fast = bcrypt.MinCost")
	assert.Equal(t, 50, c.AdmitBatch)
	assert.Equal(t, 10*time.Millisecond, c.AdmitInterval)
	assert.Equal(t, 2*time.Second, c.AdmitLease)
	assert.Equal(t, 3*time.Second, c.DrainTimeout)
	assert.Equal(t, 7, c.MaxInflight)
	assert.Equal(t, httpapi.DefaultMaxWaiters, c.MaxWaiters, "parked requests hold no in-flight slot: not tied to SURGE_MAX_INFLIGHT")
	assert.Equal(t, "postgresql://u:p@replica/surge", c.DatabaseReadURL)
}

// TestWaitBounds: a waiting request must end within its request timeout and
// well before CloudFront's origin response timeout.
func TestWaitBounds(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		want string // "" = valid
	}{
		{name: "defaults", vars: map[string]string{}},
		{name: "longer wait with a longer timeout", vars: map[string]string{"SURGE_MAX_WAIT": "8s", "SURGE_REQUEST_TIMEOUT": "10s"}},
		{name: "wait beyond 4/5 of the timeout", vars: map[string]string{"SURGE_MAX_WAIT": "5s"}, want: "SURGE_MAX_WAIT (5s) must be at most 4/5 of SURGE_REQUEST_TIMEOUT"},
		{name: "wait beyond the ceiling", vars: map[string]string{"SURGE_MAX_WAIT": "25s", "SURGE_REQUEST_TIMEOUT": "60s"}, want: "must be at most 20s"},
		{name: "more waiters than in-flight slots", vars: map[string]string{"SURGE_MAX_WAITERS": "5000"}},
		{name: "no waiters", vars: map[string]string{"SURGE_MAX_WAITERS": "0"}, want: "SURGE_MAX_WAITERS"},
		{name: "overload wait too long", vars: map[string]string{"SURGE_OVERLOAD_WAIT": "3s"}, want: "SURGE_OVERLOAD_WAIT (3s) must be below half of SURGE_REQUEST_TIMEOUT (5s)"},
		{name: "overload wait not positive", vars: map[string]string{"SURGE_OVERLOAD_WAIT": "0s"}, want: "SURGE_OVERLOAD_WAIT"},
		{name: "overload wait shorter", vars: map[string]string{"SURGE_OVERLOAD_WAIT": "200ms"}},
		{name: "not a duration", vars: map[string]string{"SURGE_MAX_WAIT": "soon"}, want: "SURGE_MAX_WAIT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := minimal()
			for k, v := range tc.vars {
				m[k] = v
			}
			_, err := Load(env(m), Serve)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"SURGE_DATABASE_URL": "postgres://user:hunter2@db/x", "SURGE_REDIS_URL": "memcached://x",
		"SURGE_PASSWORD_HASH": "md5", "SURGE_ADMIT_LEASE": "10ms", "SURGE_MAX_INFLIGHT": "0",
		"SURGE_LISTEN_ADDR": "8080", "SURGE_DATABASE_APP_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:db",
		"SURGE_DATABASE_SSLROOTCERT": "/nonexistent/rds-ca.pem", "SURGE_REDIS_MODE": "ring",
	}), Serve)
	require.Error(t, err)
	for _, want := range []string{"SURGE_REDIS_URL", "SURGE_ADMIN_TOKEN", "SURGE_PASSWORD_HASH", "SURGE_ADMIT_LEASE",
		"SURGE_MAX_INFLIGHT", "SURGE_LISTEN_ADDR", "SURGE_REDIS_MODE", "both set", "SURGE_DATABASE_SSLROOTCERT: reading /nonexistent/rds-ca.pem"} {
		assert.Contains(t, err.Error(), want, "error lists %s", want)
	}
	assert.NotContains(t, err.Error(), "hunter2", "errors never echo passwords")
}

// fakeSecrets is a Secrets Manager endpoint speaking the JSON 1.1 protocol.
func fakeSecrets(t *testing.T, secrets map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "secretsmanager.GetSecretValue", r.Header.Get("X-Amz-Target"), "operation")
		assert.Contains(t, r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "requests are signed")
		b, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		require.NoError(t, json.Unmarshal(b, &in))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		s, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
			return
		}
		out, _ := json.Marshal(map[string]any{"ARN": in.SecretId, "Name": "n", "SecretString": s, "VersionId": "v1"})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *httptest.Server) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  srv.Client(),
	}, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// caFile writes a PEM bundle (one self-signed CA) for
// SURGE_DATABASE_SSLROOTCERT.
func caFile(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "rds-ca.pem")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return p
}

const (
	dbARN    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-db-AbCdEf"
	appARN   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-db-app-AbCdEf"
	cacheARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-cache-AbCdEf"
	adminARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-admin-AbCdEf"
)

func awsSecrets(t *testing.T) *httptest.Server {
	return fakeSecrets(t, map[string]string{
		adminARN: "the-admin-token-0123456789abcdefghij\n",
		dbARN:    `{"host":"writer.rds.local","port":5432,"username":"surge_admin","password":"master-pw","dbname":"surge"}`,
		appARN:   `{"host":"writer.rds.local","port":5432,"username":"surge_app","password":"p@ss/w:rd","dbname":"surge"}`,
		cacheARN: `{"host":"cache.local","port":"6379","authToken":"tok/en","tls":true}`,
	})
}

// awsEnv is the environment file the stack writes (both commands read it).
func awsEnv(ca string) map[string]string {
	return map[string]string{
		"SURGE_DATABASE_SECRET_ARN": dbARN, "SURGE_DATABASE_APP_SECRET_ARN": appARN, "SURGE_REDIS_SECRET_ARN": cacheARN,
		"SURGE_DATABASE_READ_HOST": "reader.rds.local", "SURGE_ADMIN_TOKEN_SECRET_ARN": adminARN,
		"SURGE_DATABASE_SSLROOTCERT": ca,
	}
}

// TestResolveSecretsServe: serve connects as the app role, verify-full
// against the CA bundle, and never reads the master secret.
func TestResolveSecretsServe(t *testing.T) {
	ca := caFile(t)
	c, err := Load(env(awsEnv(ca)), Serve)
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", c.AWSRegion, "region taken from the ARN")
	require.True(t, c.NeedsSecrets())
	rec := &recordingClient{SecretsClient: client(awsSecrets(t))}
	require.NoError(t, ResolveSecrets(context.Background(), &c, rec))
	q := "?sslmode=verify-full&sslrootcert=" + url.QueryEscape(ca)
	assert.Equal(t, "postgres://surge_app:p%40ss%2Fw%3Ard@writer.rds.local:5432/surge"+q, c.DatabaseURL, "writer URL")
	assert.Equal(t, "postgres://surge_app:p%40ss%2Fw%3Ard@reader.rds.local:5432/surge"+q, c.DatabaseReadURL, "reader URL: replica host, same role")
	assert.Equal(t, "rediss://:tok%2Fen@cache.local:6379/0", c.RedisURL, "redis URL with TLS and auth token")
	assert.Equal(t, "the-admin-token-0123456789abcdefghij", c.AdminToken, "admin token from its secret")
	assert.Equal(t, appARN, c.DatabaseConnectSecretARN(), "rotation re-reads the app secret")
	assert.NotContains(t, rec.read, dbARN, "serve never reads the master secret")
	assert.Empty(t, c.AppRoleName, "serve manages no role")
	u, err := url.Parse(c.DatabaseURL)
	require.NoError(t, err)
	pw, _ := u.User.Password()
	assert.Equal(t, "p@ss/w:rd", pw, "password survives URL encoding")
}

// TestResolveSecretsMigrate: migrate connects as the master and learns the
// app role it must create.
func TestResolveSecretsMigrate(t *testing.T) {
	ca := caFile(t)
	c, err := Load(env(awsEnv(ca)), Migrate)
	require.NoError(t, err)
	require.NoError(t, ResolveSecrets(context.Background(), &c, client(awsSecrets(t))))
	assert.True(t, strings.HasPrefix(c.DatabaseURL, "postgres://surge_admin:master-pw@writer.rds.local:5432/surge?"), "migrate connects as the master")
	assert.Equal(t, dbARN, c.DatabaseConnectSecretARN())
	assert.Equal(t, [2]string{"surge_app", "p@ss/w:rd"}, [2]string{c.AppRoleName, c.AppRolePassword}, "app role from its secret")
}

type recordingClient struct {
	SecretsClient
	mu   sync.Mutex
	read []string
}

func (r *recordingClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	r.mu.Lock()
	r.read = append(r.read, aws.ToString(in.SecretId))
	r.mu.Unlock()
	return r.SecretsClient.GetSecretValue(ctx, in, opts...)
}

func TestLoadDatabaseCredentialRules(t *testing.T) {
	ca := caFile(t)
	tests := []struct {
		name string
		cmd  Command
		set  map[string]string
		want string // "" = valid
	}{
		{"serve with the master secret only", Serve, map[string]string{"SURGE_DATABASE_URL": "", "SURGE_DATABASE_SECRET_ARN": dbARN, "SURGE_DATABASE_SSLROOTCERT": ca},
			"only `surge migrate` uses"},
		{"serve with the app secret", Serve, map[string]string{"SURGE_DATABASE_URL": "", "SURGE_DATABASE_APP_SECRET_ARN": appARN, "SURGE_DATABASE_SSLROOTCERT": ca}, ""},
		{"verify-full without a CA bundle", Serve, map[string]string{"SURGE_DATABASE_URL": "", "SURGE_DATABASE_APP_SECRET_ARN": appARN},
			"SURGE_DATABASE_SSLROOTCERT is required"},
		{"require needs no bundle", Serve, map[string]string{"SURGE_DATABASE_URL": "", "SURGE_DATABASE_APP_SECRET_ARN": appARN, "SURGE_DATABASE_SSLMODE": "require"}, ""},
		{"a bundle without certificates", Migrate, map[string]string{"SURGE_DATABASE_SSLROOTCERT": "/etc/hostname"}, "holds no PEM certificate"},
		{"a bundle that does not parse", Migrate, map[string]string{"SURGE_DATABASE_SSLROOTCERT": garbagePEM(t)}, "does not parse"},
		{"migrate with both secrets", Migrate, map[string]string{"SURGE_DATABASE_URL": "", "SURGE_DATABASE_SECRET_ARN": dbARN, "SURGE_DATABASE_APP_SECRET_ARN": appARN, "SURGE_DATABASE_SSLROOTCERT": ca}, ""},
		{"migrate with a bad app ARN", Migrate, map[string]string{"SURGE_DATABASE_APP_SECRET_ARN": "surge_app"}, "not a Secrets Manager ARN"},
		{"short admin token", Serve, map[string]string{"SURGE_ADMIN_TOKEN": "short-but-not-empty"}, "SURGE_ADMIN_TOKEN is too short: at least 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := minimal()
			for k, v := range tc.set {
				m[k] = v
			}
			_, err := Load(env(m), tc.cmd)
			if tc.want == "" {
				assert.NoError(t, err, "Load(%v)", tc.set)
				return
			}
			if assert.Error(t, err, "Load(%v)", tc.set) {
				assert.Contains(t, err.Error(), tc.want)
				assert.NotContains(t, err.Error(), "short-but-not-empty", "the token is never echoed")
			}
		})
	}
}

func garbagePEM(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644))
	return p
}

func TestAdminTokenSecretTooShort(t *testing.T) {
	srv := fakeSecrets(t, map[string]string{adminARN: "tiny-token"})
	c := Config{AdminTokenARN: adminARN}
	err := ResolveSecrets(context.Background(), &c, client(srv))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too short")
	assert.NotContains(t, err.Error(), "tiny-token")
}

func TestResolveSecretsErrors(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:1:secret:x"
	tests := []struct {
		name, secret string
		want         string
	}{
		{"missing", "", "ResourceNotFoundException"},
		{"not json", `password=hunter2`, "not the expected JSON"},
		{"missing fields", `{"host":"h"}`, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secrets := map[string]string{}
			if tc.secret != "" {
				secrets[arn] = tc.secret
			}
			c := Config{DatabaseSecretARN: arn, DatabaseSSLMode: "require"}
			err := ResolveSecrets(context.Background(), &c, client(fakeSecrets(t, secrets)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want, "ResolveSecrets(%s)", tc.name)
			assert.False(t, strings.Contains(err.Error(), "hunter2"), "secret value not in the error")
		})
	}
}

func TestRotatingSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:1:secret:db"
	secrets := map[string]string{arn: `{"host":"h","username":"u","password":"one"}`}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if secrets[arn] == "" {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"InternalServiceError","message":"down"}`))
			return
		}
		out, _ := json.Marshal(map[string]any{"ARN": arn, "Name": "n", "SecretString": secrets[arn]})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	now := time.Unix(1000, 0)
	r := NewRotatingSecret(client(srv), arn, time.Minute)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	u, p, err := r.DatabaseCredentials(ctx)
	require.NoError(t, err)
	assert.Equal(t, [2]string{"u", "one"}, [2]string{u, p}, "first read")

	mu.Lock()
	secrets[arn] = `{"host":"h","username":"u","password":"two"}`
	mu.Unlock()
	_, p, _ = r.DatabaseCredentials(ctx)
	assert.Equal(t, "one", p, "cached within the TTL")
	now = now.Add(61 * time.Second)
	_, p, _ = r.DatabaseCredentials(ctx)
	assert.Equal(t, "two", p, "rotated password picked up after the TTL")

	mu.Lock()
	secrets[arn] = ""
	mu.Unlock()
	now = now.Add(61 * time.Second)
	_, p, err = r.DatabaseCredentials(ctx)
	require.NoError(t, err, "Secrets Manager down: keep the last value")
	assert.Equal(t, "two", p)
}

// TestRotatingAdminToken: a rotated token is returned after the TTL; a
// rotated value that is too short is an error, never accepted.
func TestRotatingAdminToken(t *testing.T) {
	secrets := map[string]string{adminARN: "first-token-0123456789abcdefghijklmnop"}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		out, _ := json.Marshal(map[string]any{"ARN": adminARN, "Name": "n", "SecretString": secrets[adminARN]})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	now := time.Unix(1000, 0)
	r := NewRotatingSecret(client(srv), adminARN, time.Minute)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	tok, err := r.AdminToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, "first-token-0123456789abcdefghijklmnop", tok)

	mu.Lock()
	secrets[adminARN] = "second-token-0123456789abcdefghijklmno\n"
	mu.Unlock()
	now = now.Add(61 * time.Second)
	tok, err = r.AdminToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, "second-token-0123456789abcdefghijklmno", tok, "rotated, trimmed")

	mu.Lock()
	secrets[adminARN] = "too-short"
	mu.Unlock()
	now = now.Add(61 * time.Second)
	_, err = r.AdminToken(ctx)
	require.Error(t, err, "a short rotated token is refused")
	assert.NotContains(t, err.Error(), "too-short")
}
