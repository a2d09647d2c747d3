// Package config reads the service's environment variables into a validated
// Config. Configuration lives at the edge: nothing else reads the environment.
package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/redisconn"
)

// Config is the whole configuration of `surge serve` and `surge migrate`.
type Config struct {
	ListenAddr      string         // SURGE_LISTEN_ADDR, default ":8080"
	MetricsAddr     string         // SURGE_METRICS_ADDR, default "127.0.0.1:9090"; "off" disables
	DatabaseURL     string         // SURGE_DATABASE_URL: writer
	DatabaseReadURL string         // SURGE_DATABASE_READ_URL: replica; the writer when empty
	RedisURL        string         // SURGE_REDIS_URL: redis:// or rediss://
	RedisMode       redisconn.Mode // SURGE_REDIS_MODE: standalone (default) or cluster
	AdminToken      string         // SURGE_ADMIN_TOKEN, at least MinAdminTokenLength characters
	CookieSecure    bool           // SURGE_COOKIE_SECURE, default true
	TrustCloudFront bool           // SURGE_TRUST_CLOUDFRONT, default false: CloudFront-Viewer-Address names the client
	PasswordHash    string         // SURGE_PASSWORD_HASH: "default" or "fast"
	BcryptCost      int            // derived from PasswordHash
	AdmitBatch      int            // SURGE_ADMIT_BATCH, default 500: upper bound of the adaptive batch
	AdmitInterval   time.Duration  // SURGE_ADMIT_INTERVAL, default 50ms: idle poll of the admitter
	AdmitLease      time.Duration  // SURGE_ADMIT_LEASE, default 5s
	DrainTimeout    time.Duration  // SURGE_DRAIN_TIMEOUT, default 20s
	MaxInflight     int            // SURGE_MAX_INFLIGHT, default 1000
	RequestTimeout  time.Duration  // SURGE_REQUEST_TIMEOUT, default 5s: bound of one API request's work
	OverloadWait    time.Duration  // SURGE_OVERLOAD_WAIT, default 1s: how long a request past SURGE_MAX_INFLIGHT waits for a slot before 503
	MaxWait         time.Duration  // SURGE_MAX_WAIT, default 4s: longest wait a join or status request may ask for
	MaxWaiters      int            // SURGE_MAX_WAITERS, default 10000: requests parked in the waiting room at once per instance
	SessionTTL      time.Duration  // SURGE_SESSION_TTL, default 12h
	LogLevel        slog.Level     // SURGE_LOG_LEVEL: debug, info (default), warn, error
	RedisPrefix     string         // SURGE_REDIS_PREFIX, default "surge:"

	// AWS mode: credentials come from Secrets Manager instead of the URLs.
	// DatabaseSecretARN holds the master (owner) credentials: only `surge
	// migrate` reads it. DatabaseAppSecretARN holds the app role's: `surge
	// serve` connects with it, `surge migrate` sets the role's password from it.
	DatabaseSecretARN    string // SURGE_DATABASE_SECRET_ARN: JSON {host,port,username,password,dbname}
	DatabaseAppSecretARN string // SURGE_DATABASE_APP_SECRET_ARN: same shape, the app role
	RedisSecretARN       string // SURGE_REDIS_SECRET_ARN: JSON {host,port,authToken,tls}
	AdminTokenARN        string // SURGE_ADMIN_TOKEN_SECRET_ARN: the admin token as the secret string
	AWSRegion            string // SURGE_AWS_REGION; default: the region in the ARN
	DatabaseReadHost     string // SURGE_DATABASE_READ_HOST: replica host, writer's credentials
	DatabaseSSLMode      string // SURGE_DATABASE_SSLMODE for URLs built from the secret, default "verify-full"
	// DatabaseSSLRootCert is the CA bundle the server certificate is verified
	// against (the RDS bundle: RDS CAs are in no system trust store).
	DatabaseSSLRootCert string // SURGE_DATABASE_SSLROOTCERT: PEM file; required with verify-* and a secret

	// Course materials (all four or none; none: the materials routes
	// answer 404). Uploads go straight to MediaBucket under
	// media/materials/ with presigned POSTs; downloads are CloudFront
	// signed URLs under MediaBaseURL/media/*, signed with the private key
	// held in MediaSigningKeyARN for the public key MediaKeyPairID.
	MediaBucket        string        // SURGE_MEDIA_BUCKET: the uploads bucket
	MediaBaseURL       string        // SURGE_MEDIA_BASE_URL: the site's origin, https://host
	MediaKeyPairID     string        // SURGE_MEDIA_KEY_PAIR_ID: the CloudFront public key's ID
	MediaSigningKeyARN string        // SURGE_MEDIA_SIGNING_KEY_SECRET_ARN: its PEM private key
	MediaUploadTTL     time.Duration // SURGE_MEDIA_UPLOAD_TTL, default 5m (at most 1h): presigned POST lifetime
	MediaURLTTL        time.Duration // SURGE_MEDIA_URL_TTL, default 10m (at most 24h): signed URL lifetime
	// MediaSigningKey is the PEM read from MediaSigningKeyARN.
	MediaSigningKey string

	// AppRoleName and AppRolePassword are the role `surge migrate` creates
	// or updates, read from DatabaseAppSecretARN (empty: no app role).
	AppRoleName     string
	AppRolePassword string

	cmd Command
}

// MinAdminTokenLength is the shortest admin token accepted: 32 random
// alphanumerics are about 190 bits, far beyond online guessing (the stack
// generates 48).
const MinAdminTokenLength = 32

// MaxWaitCeiling bounds SURGE_MAX_WAIT whatever the request timeout.
const MaxWaitCeiling = 20 * time.Second

// Command says which variables are required.
type Command string

// Commands.
const (
	Serve   Command = "serve"
	Migrate Command = "migrate"
)

// Load reads and validates the configuration; the error lists every problem.
func Load(getenv func(string) string, cmd Command) (Config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration (e.g. 250ms, 5s)", name, v))
			return def
		}
		return d
	}
	num := func(name string, def, lo, hi int) int {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer in %d..%d", name, v, lo, hi))
			return def
		}
		return n
	}
	c := Config{
		ListenAddr:           str("SURGE_LISTEN_ADDR", ":8080"),
		MetricsAddr:          str("SURGE_METRICS_ADDR", "127.0.0.1:9090"),
		DatabaseURL:          str("SURGE_DATABASE_URL", ""),
		DatabaseReadURL:      str("SURGE_DATABASE_READ_URL", ""),
		RedisURL:             str("SURGE_REDIS_URL", ""),
		AdminToken:           getenv("SURGE_ADMIN_TOKEN"),
		PasswordHash:         str("SURGE_PASSWORD_HASH", "default"),
		AdmitBatch:           num("SURGE_ADMIT_BATCH", 500, 1, 10000),
		AdmitInterval:        dur("SURGE_ADMIT_INTERVAL", 50*time.Millisecond),
		AdmitLease:           dur("SURGE_ADMIT_LEASE", 5*time.Second),
		DrainTimeout:         dur("SURGE_DRAIN_TIMEOUT", 20*time.Second),
		MaxInflight:          num("SURGE_MAX_INFLIGHT", 1000, 1, 1000000),
		RequestTimeout:       dur("SURGE_REQUEST_TIMEOUT", 5*time.Second),
		MaxWait:              dur("SURGE_MAX_WAIT", 4*time.Second),
		OverloadWait:         dur("SURGE_OVERLOAD_WAIT", time.Second),
		MaxWaiters:           num("SURGE_MAX_WAITERS", httpapi.DefaultMaxWaiters, 1, 1000000),
		SessionTTL:           dur("SURGE_SESSION_TTL", 12*time.Hour),
		RedisPrefix:          str("SURGE_REDIS_PREFIX", "surge:"),
		DatabaseSecretARN:    str("SURGE_DATABASE_SECRET_ARN", ""),
		RedisSecretARN:       str("SURGE_REDIS_SECRET_ARN", ""),
		AdminTokenARN:        str("SURGE_ADMIN_TOKEN_SECRET_ARN", ""),
		AWSRegion:            str("SURGE_AWS_REGION", ""),
		DatabaseReadHost:     str("SURGE_DATABASE_READ_HOST", ""),
		DatabaseSSLMode:      str("SURGE_DATABASE_SSLMODE", "verify-full"),
		DatabaseSSLRootCert:  str("SURGE_DATABASE_SSLROOTCERT", ""),
		DatabaseAppSecretARN: str("SURGE_DATABASE_APP_SECRET_ARN", ""),
		MediaBucket:          str("SURGE_MEDIA_BUCKET", ""),
		MediaBaseURL:         str("SURGE_MEDIA_BASE_URL", ""),
		MediaKeyPairID:       str("SURGE_MEDIA_KEY_PAIR_ID", ""),
		MediaSigningKeyARN:   str("SURGE_MEDIA_SIGNING_KEY_SECRET_ARN", ""),
		MediaUploadTTL:       dur("SURGE_MEDIA_UPLOAD_TTL", 5*time.Minute),
		MediaURLTTL:          dur("SURGE_MEDIA_URL_TTL", 10*time.Minute),
		cmd:                  cmd,
	}
	if m, err := redisconn.ParseMode(str("SURGE_REDIS_MODE", string(redisconn.Standalone))); err != nil {
		errs = append(errs, fmt.Errorf("SURGE_REDIS_MODE: %w", err))
	} else {
		c.RedisMode = m
	}
	// Keys carry hash tags in braces (waitroom/scripts.go): a brace in the
	// prefix would become the tag of every key.
	if strings.ContainsAny(c.RedisPrefix, "{}") {
		errs = append(errs, fmt.Errorf("SURGE_REDIS_PREFIX: %q must not contain { or }: keys carry their cluster hash tag in braces", c.RedisPrefix))
	}
	switch v := str("SURGE_COOKIE_SECURE", "true"); v {
	case "true", "1":
		c.CookieSecure = true
	case "false", "0":
	default:
		errs = append(errs, fmt.Errorf("SURGE_COOKIE_SECURE: %q is not true or false", v))
	}
	switch v := str("SURGE_TRUST_CLOUDFRONT", "false"); v {
	case "true", "1":
		c.TrustCloudFront = true
	case "false", "0":
	default:
		errs = append(errs, fmt.Errorf("SURGE_TRUST_CLOUDFRONT: %q is not true or false", v))
	}
	switch c.PasswordHash {
	case "default":
		c.BcryptCost = 12
	case "fast":
		c.BcryptCost = bcrypt.MinCost
	default:
		errs = append(errs, fmt.Errorf("SURGE_PASSWORD_HASH: %q is not default or fast", c.PasswordHash))
	}
	switch v := str("SURGE_LOG_LEVEL", "info"); v {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("SURGE_LOG_LEVEL: %q is not debug, info, warn or error", v))
	}

	// Database: a URL or a secret, never both (which one wins would be a guess).
	// serve connects with the app secret and never reads the master one.
	switch {
	case cmd == Serve && c.DatabaseAppSecretARN != "":
		if c.DatabaseURL != "" {
			errs = append(errs, errors.New("SURGE_DATABASE_URL and SURGE_DATABASE_APP_SECRET_ARN are both set: use one"))
		}
		errs = append(errs, checkARN("SURGE_DATABASE_APP_SECRET_ARN", c.DatabaseAppSecretARN))
	case cmd == Serve && c.DatabaseSecretARN != "":
		errs = append(errs, errors.New("SURGE_DATABASE_SECRET_ARN holds the master credentials, which only `surge migrate` uses: serve needs SURGE_DATABASE_APP_SECRET_ARN"))
	case c.DatabaseSecretARN != "" && c.DatabaseURL != "":
		errs = append(errs, errors.New("SURGE_DATABASE_URL and SURGE_DATABASE_SECRET_ARN are both set: use one"))
	case c.DatabaseSecretARN != "":
		errs = append(errs, checkARN("SURGE_DATABASE_SECRET_ARN", c.DatabaseSecretARN))
	case c.DatabaseURL == "" && cmd == Serve:
		errs = append(errs, errors.New("SURGE_DATABASE_URL (or SURGE_DATABASE_APP_SECRET_ARN) is required"))
	case c.DatabaseURL == "":
		errs = append(errs, errors.New("SURGE_DATABASE_URL (or SURGE_DATABASE_SECRET_ARN) is required"))
	default:
		errs = append(errs, checkURL("SURGE_DATABASE_URL", c.DatabaseURL, "postgres", "postgresql"))
	}
	if c.DatabaseReadURL != "" {
		errs = append(errs, checkURL("SURGE_DATABASE_READ_URL", c.DatabaseReadURL, "postgres", "postgresql"))
		if c.DatabaseReadHost != "" {
			errs = append(errs, errors.New("SURGE_DATABASE_READ_URL and SURGE_DATABASE_READ_HOST are both set: use one"))
		}
	}
	if c.DatabaseReadHost != "" && c.DatabaseSecretARN == "" && c.DatabaseAppSecretARN == "" {
		errs = append(errs, errors.New("SURGE_DATABASE_READ_HOST needs a database secret (it reuses the secret's credentials)"))
	}
	if c.DatabaseAppSecretARN != "" && cmd == Migrate {
		errs = append(errs, checkARN("SURGE_DATABASE_APP_SECRET_ARN", c.DatabaseAppSecretARN))
	}
	switch c.DatabaseSSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		errs = append(errs, fmt.Errorf("SURGE_DATABASE_SSLMODE: %q is not a libpq sslmode", c.DatabaseSSLMode))
	}
	verifying := c.DatabaseSSLMode == "verify-ca" || c.DatabaseSSLMode == "verify-full"
	if c.DatabaseSSLRootCert != "" {
		errs = append(errs, checkPEM("SURGE_DATABASE_SSLROOTCERT", c.DatabaseSSLRootCert))
	} else if verifying && c.connectARN() != "" {
		errs = append(errs, fmt.Errorf("SURGE_DATABASE_SSLROOTCERT is required with SURGE_DATABASE_SSLMODE=%s and a database secret: the RDS certificate authority is in no system trust store", c.DatabaseSSLMode))
	}

	if cmd == Serve {
		switch {
		case c.RedisSecretARN != "" && c.RedisURL != "":
			errs = append(errs, errors.New("SURGE_REDIS_URL and SURGE_REDIS_SECRET_ARN are both set: use one"))
		case c.RedisSecretARN != "":
			errs = append(errs, checkARN("SURGE_REDIS_SECRET_ARN", c.RedisSecretARN))
		case c.RedisURL == "":
			errs = append(errs, errors.New("SURGE_REDIS_URL (or SURGE_REDIS_SECRET_ARN) is required"))
		default:
			errs = append(errs, checkURL("SURGE_REDIS_URL", c.RedisURL, "redis", "rediss"))
		}
		switch {
		case c.AdminTokenARN != "" && c.AdminToken != "":
			errs = append(errs, errors.New("SURGE_ADMIN_TOKEN and SURGE_ADMIN_TOKEN_SECRET_ARN are both set: use one"))
		case c.AdminTokenARN != "":
			errs = append(errs, checkARN("SURGE_ADMIN_TOKEN_SECRET_ARN", c.AdminTokenARN))
		case c.AdminToken == "":
			errs = append(errs, errors.New("SURGE_ADMIN_TOKEN (or SURGE_ADMIN_TOKEN_SECRET_ARN) is required"))
		case len(c.AdminToken) < MinAdminTokenLength:
			// Never echo the token, not even its length.
			errs = append(errs, fmt.Errorf("SURGE_ADMIN_TOKEN is too short: at least %d characters", MinAdminTokenLength))
		}
		errs = append(errs, checkAddr("SURGE_LISTEN_ADDR", c.ListenAddr))
		if c.MetricsAddr != "off" {
			errs = append(errs, checkAddr("SURGE_METRICS_ADDR", c.MetricsAddr))
		}
		if c.AdmitLease < 4*c.AdmitInterval {
			errs = append(errs, fmt.Errorf("SURGE_ADMIT_LEASE (%s) must be at least 4x SURGE_ADMIT_INTERVAL (%s)", c.AdmitLease, c.AdmitInterval))
		}
		errs = append(errs, c.checkMedia()...)
		if c.AdmitLease < 500*time.Millisecond {
			errs = append(errs, fmt.Errorf("SURGE_ADMIT_LEASE (%s) must be at least 500ms: a grant transaction must fit in it", c.AdmitLease))
		}
		// A waiting request must end within its own time bound (a fifth of it
		// is kept to read the state once more) and well before CloudFront's
		// default origin response timeout (30 s) and the load balancer's idle
		// timeout (60 s):
		// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CustomOriginConfig.html,
		// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html
		if c.MaxWait > c.RequestTimeout*4/5 {
			errs = append(errs, fmt.Errorf("SURGE_MAX_WAIT (%s) must be at most 4/5 of SURGE_REQUEST_TIMEOUT (%s)", c.MaxWait, c.RequestTimeout))
		}
		if c.OverloadWait >= c.RequestTimeout/2 {
			errs = append(errs, fmt.Errorf("SURGE_OVERLOAD_WAIT (%s) must be below half of SURGE_REQUEST_TIMEOUT (%s): the request still has to be served", c.OverloadWait, c.RequestTimeout))
		}
		if c.MaxWait > MaxWaitCeiling {
			errs = append(errs, fmt.Errorf("SURGE_MAX_WAIT (%s) must be at most %s: CloudFront gives up on an origin after 30 s by default", c.MaxWait, MaxWaitCeiling))
		}
	}
	if c.AWSRegion == "" {
		for _, arn := range []string{c.DatabaseSecretARN, c.DatabaseAppSecretARN, c.RedisSecretARN, c.AdminTokenARN, c.MediaSigningKeyARN} {
			if r := arnRegion(arn); r != "" {
				c.AWSRegion = r
				break
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

// MediaEnabled reports whether course materials are configured.
func (c Config) MediaEnabled() bool { return c.MediaBucket != "" }

// checkMedia: the four media variables come together, or not at all.
func (c Config) checkMedia() []error {
	vars := []struct{ name, value string }{
		{"SURGE_MEDIA_BUCKET", c.MediaBucket}, {"SURGE_MEDIA_BASE_URL", c.MediaBaseURL},
		{"SURGE_MEDIA_KEY_PAIR_ID", c.MediaKeyPairID}, {"SURGE_MEDIA_SIGNING_KEY_SECRET_ARN", c.MediaSigningKeyARN},
	}
	var missing []string
	for _, v := range vars {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) == len(vars) {
		return nil
	}
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("course materials need all of SURGE_MEDIA_BUCKET, SURGE_MEDIA_BASE_URL, SURGE_MEDIA_KEY_PAIR_ID and SURGE_MEDIA_SIGNING_KEY_SECRET_ARN; missing %s", strings.Join(missing, ", ")))
	}
	if c.MediaBaseURL != "" {
		if u, err := url.Parse(c.MediaBaseURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("SURGE_MEDIA_BASE_URL: %q is not an origin such as https://surge.example.com", c.MediaBaseURL))
		}
	}
	if c.MediaSigningKeyARN != "" {
		errs = append(errs, checkARN("SURGE_MEDIA_SIGNING_KEY_SECRET_ARN", c.MediaSigningKeyARN))
	}
	if c.MediaUploadTTL > time.Hour {
		errs = append(errs, fmt.Errorf("SURGE_MEDIA_UPLOAD_TTL (%s): at most 1h, an upload policy should expire in minutes", c.MediaUploadTTL))
	}
	if c.MediaURLTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("SURGE_MEDIA_URL_TTL (%s): at most 24h", c.MediaURLTTL))
	}
	return errs
}

func checkURL(name, raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// Never echo the value: it may hold a password.
		return fmt.Errorf("%s: not a valid URL", name)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return fmt.Errorf("%s: no host", name)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: scheme %q is not one of %s", name, u.Scheme, strings.Join(schemes, ", "))
}

// connectARN is the secret whose credentials the command connects with:
// the app role's for serve, the master's for migrate.
func (c Config) connectARN() string {
	if c.cmd == Serve {
		return c.DatabaseAppSecretARN
	}
	return c.DatabaseSecretARN
}

// DatabaseConnectSecretARN is the secret whose credentials (re-read on
// rotation) the command's connections use; empty with SURGE_DATABASE_URL.
func (c Config) DatabaseConnectSecretARN() string { return c.connectARN() }

// checkPEM makes a missing or unreadable CA bundle a configuration error at
// start rather than a TLS failure on the first connection.
func checkPEM(name, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: reading %s: %w", name, path, err)
	}
	n := 0
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("%s: %s holds a certificate that does not parse: %w", name, path, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: %s holds no PEM certificate", name, path)
	}
	return nil
}

func checkAddr(name, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q is not host:port", name, addr)
	}
	return nil
}

func checkARN(name, arn string) error {
	if arnRegion(arn) == "" || !strings.Contains(arn, ":secretsmanager:") {
		return fmt.Errorf("%s: %q is not a Secrets Manager ARN", name, arn)
	}
	return nil
}

// arnRegion returns the region field of arn:partition:service:region:account:...
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
