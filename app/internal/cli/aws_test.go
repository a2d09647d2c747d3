package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/cli"
)

// fakeSecretsManager answers GetSecretValue (JSON 1.1) and records which
// secrets were read.
type fakeSecretsManager struct {
	mu      sync.Mutex
	secrets map[string]string
	read    map[string]int
}

func (f *fakeSecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct{ SecretId string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read[in.SecretId]++
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	v, ok := f.secrets[in.SecretId]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"no such secret"}`))
		return
	}
	out, _ := json.Marshal(map[string]any{"ARN": in.SecretId, "Name": "n", "SecretString": v})
	_, _ = w.Write(out)
}

func (f *fakeSecretsManager) reads() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.read {
		out[k] = v
	}
	f.read = map[string]int{}
	return out
}

// TestAWSModeMigrateThenServeAsAppRole runs the two commands as the boot
// does, from one environment file and Secrets Manager: migrate connects as
// an RDS-like master (CREATEROLE, not a superuser) and creates the app role
// from the app secret; serve never reads the master secret and every one of
// its connections is the app role's.
func TestAWSModeMigrateThenServeAsAppRole(t *testing.T) {
	ctx := context.Background()
	superURL := newDatabase(t)
	u, err := url.Parse(superURL)
	require.NoError(t, err)
	dbName := u.Path[1:]
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	master, appRole := "climaster_"+suffix, "cliapp_"+suffix
	conn, err := pgx.Connect(ctx, superURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE; ALTER DATABASE %q OWNER TO %s", master, dbName, master))
	conn.Close(ctx)
	require.NoError(t, err)

	const (
		masterARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
		appARN    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-app-AbCdEf"
		adminARN  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:admin-AbCdEf"
		token     = "aws-mode-admin-token-0123456789abcdefgh"
	)
	dbJSON := func(user, password string) string {
		b, _ := json.Marshal(map[string]any{"host": u.Hostname(), "port": u.Port(), "username": user, "password": password, "dbname": dbName})
		return string(b)
	}
	fake := &fakeSecretsManager{read: map[string]int{}, secrets: map[string]string{
		masterARN: dbJSON(master, "master-password-0123456789"),
		appARN:    dbJSON(appRole, "app-password-0123456789abcdef"),
		adminARN:  token,
	}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	vars := baseEnv(t, "")
	delete(vars, "SURGE_DATABASE_URL")
	delete(vars, "SURGE_ADMIN_TOKEN")
	vars["SURGE_DATABASE_SECRET_ARN"] = masterARN
	vars["SURGE_DATABASE_APP_SECRET_ARN"] = appARN
	vars["SURGE_ADMIN_TOKEN_SECRET_ARN"] = adminARN
	vars["SURGE_DATABASE_SSLMODE"] = "disable" // the throwaway cluster has no TLS

	migrateLog := &logLines{}
	require.NoError(t, cli.Run(ctx, []string{"surge", "migrate"}, getenv(vars), migrateLog.writer(), io.Discard), "migrate")
	got := fake.reads()
	assert.Positive(t, got[masterARN], "migrate connects with the master secret")
	assert.Equal(t, 1, got[appARN], "and reads the app role from the app secret")
	assert.Zero(t, got[adminARN], "migrate needs no admin token")
	require.Eventually(t, func() bool { return migrateLog.find("database app role ensured", "role") == appRole }, 5*time.Second, 10*time.Millisecond)

	logs := &logLines{}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cli.Run(sctx, []string{"surge", "serve"}, getenv(vars), logs.writer(), io.Discard) }()
	var addr string
	require.Eventually(t, func() bool { addr = logs.find("http server listening", "addr"); return addr != "" }, 60*time.Second, 20*time.Millisecond)
	c := env.NewClient(t, "http://"+addr)
	r := c.Must("POST", "/api/admin/courses", map[string]any{"code": "AWS1", "title": "t", "capacity": 5, "opensAt": "2020-01-01T00:00:00Z"},
		"Authorization", "Bearer "+token)
	assert.Equal(t, http.StatusCreated, r.Status, "admin action with the token from its secret: %s", r.Body)
	r = c.Must("GET", "/api/courses", nil)
	assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	conn, err = pgx.Connect(ctx, superURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT DISTINCT usename::text FROM pg_stat_activity WHERE datname = $1 AND application_name = 'surge'", dbName)
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{appRole}, users, "every connection of serve is the app role's")

	stop()
	require.NoError(t, <-done)
	got = fake.reads()
	assert.Zero(t, got[masterARN], "serve never reads the master secret")
	assert.Positive(t, got[appARN], "serve reads the app secret")
}
