package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsClient is the part of the Secrets Manager client we use.
type SecretsClient interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// NeedsSecrets reports whether any credential comes from Secrets Manager.
func (c Config) NeedsSecrets() bool {
	return c.DatabaseSecretARN != "" || c.DatabaseAppSecretARN != "" || c.RedisSecretARN != "" || c.AdminTokenARN != "" ||
		c.readsMediaKey()
}

// readsMediaKey reports whether the signing key comes from Secrets Manager:
// serve signs download links; migrate never does.
func (c Config) readsMediaKey() bool { return c.MediaSigningKeyARN != "" && c.cmd != Migrate }

// NewSecretsClient builds a client with the default AWS credential chain
// (the instance profile on EC2).
func NewSecretsClient(ctx context.Context, region string) (*secretsmanager.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("loading aws config: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg), nil
}

// flex accepts a JSON string, number or bool as text (RDS writes the port as
// a number, hand-made secrets often as a string).
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flex(s)
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*f = flex(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		*f = flex(strconv.FormatBool(v))
	case nil:
		*f = ""
	default:
		return fmt.Errorf("unsupported value %s", b)
	}
	return nil
}

type dbSecret struct {
	Host     flex `json:"host"`
	Port     flex `json:"port"`
	Username flex `json:"username"`
	Password flex `json:"password"`
	DBName   flex `json:"dbname"`
}

type cacheSecret struct {
	Host      flex `json:"host"`
	Port      flex `json:"port"`
	AuthToken flex `json:"authToken"`
	TLS       flex `json:"tls"`
}

// ResolveSecrets fills DatabaseURL, DatabaseReadURL, RedisURL and
// AdminToken from the secrets named by the ARNs; for migrate also the app
// role. serve reads the app secret only, never the master one. Errors never
// contain secret values.
func ResolveSecrets(ctx context.Context, c *Config, client SecretsClient) error {
	// migrate needs neither the admin token nor the cache.
	if c.AdminTokenARN != "" && c.cmd != Migrate {
		raw, err := getSecretString(ctx, client, c.AdminTokenARN)
		if err != nil {
			return fmt.Errorf("admin token secret: %w", err)
		}
		if c.AdminToken, err = AdminTokenValue(raw); err != nil {
			return fmt.Errorf("admin token secret: %w", err)
		}
	}
	if c.readsMediaKey() {
		raw, err := getSecretString(ctx, client, c.MediaSigningKeyARN)
		if err != nil {
			return fmt.Errorf("media signing key secret: %w", err)
		}
		if !strings.Contains(raw, "PRIVATE KEY-----") {
			return errors.New("media signing key secret: not a PEM private key")
		}
		c.MediaSigningKey = raw
	}
	if c.cmd == Migrate && c.DatabaseAppSecretARN != "" {
		var s dbSecret
		if err := getSecret(ctx, client, c.DatabaseAppSecretARN, &s); err != nil {
			return fmt.Errorf("database app secret: %w", err)
		}
		if s.Username == "" || s.Password == "" {
			return errors.New("database app secret: missing username or password")
		}
		c.AppRoleName, c.AppRolePassword = string(s.Username), string(s.Password)
	}
	if arn := c.connectARN(); arn != "" {
		var s dbSecret
		if err := getSecret(ctx, client, arn, &s); err != nil {
			return fmt.Errorf("database secret: %w", err)
		}
		var missing []string
		for name, v := range map[string]flex{"host": s.Host, "username": s.Username, "password": s.Password} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("database secret: missing %s", strings.Join(missing, ", "))
		}
		port := string(s.Port)
		if port == "" {
			port = "5432"
		}
		db := string(s.DBName)
		if db == "" {
			db = "postgres"
		}
		q := url.Values{"sslmode": {c.DatabaseSSLMode}}
		if c.DatabaseSSLRootCert != "" {
			q.Set("sslrootcert", c.DatabaseSSLRootCert)
		}
		build := func(host string) string {
			u := url.URL{
				Scheme:   "postgres",
				User:     url.UserPassword(string(s.Username), string(s.Password)),
				Host:     net.JoinHostPort(host, port),
				Path:     "/" + db,
				RawQuery: q.Encode(),
			}
			return u.String()
		}
		c.DatabaseURL = build(string(s.Host))
		if c.DatabaseReadHost != "" {
			c.DatabaseReadURL = build(c.DatabaseReadHost)
		}
	}
	if c.RedisSecretARN != "" && c.cmd != Migrate {
		var s cacheSecret
		if err := getSecret(ctx, client, c.RedisSecretARN, &s); err != nil {
			return fmt.Errorf("redis secret: %w", err)
		}
		if s.Host == "" {
			return errors.New("redis secret: missing host")
		}
		port := string(s.Port)
		if port == "" {
			port = "6379"
		}
		u := url.URL{Scheme: "redis", Host: net.JoinHostPort(string(s.Host), port), Path: "/0"}
		if tls, _ := strconv.ParseBool(string(s.TLS)); tls {
			u.Scheme = "rediss"
		}
		if s.AuthToken != "" {
			u.User = url.UserPassword("", string(s.AuthToken))
		}
		c.RedisURL = u.String()
	}
	return nil
}

// AdminTokenValue is the admin token held by a secret string: trimmed, and
// refused when shorter than MinAdminTokenLength (the error never holds it).
func AdminTokenValue(raw string) (string, error) {
	t := strings.TrimSpace(raw)
	switch {
	case t == "":
		return "", errors.New("empty")
	case len(t) < MinAdminTokenLength:
		return "", fmt.Errorf("too short: at least %d characters", MinAdminTokenLength)
	}
	return t, nil
}

func getSecretString(ctx context.Context, client SecretsClient, arn string) (string, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("reading %s: no SecretString", arn)
	}
	return *out.SecretString, nil
}

func getSecret(ctx context.Context, client SecretsClient, arn string, into any) error {
	raw, err := getSecretString(ctx, client, arn)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		// The json error could quote the secret: do not wrap it.
		return fmt.Errorf("reading %s: secret is not the expected JSON object", arn)
	}
	return nil
}
