package config

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// RotatingSecret re-reads a Secrets Manager secret at most once per TTL, so
// that new connections pick up a rotated password (RDS and ElastiCache
// rotation) without a restart; connections already open keep working.
type RotatingSecret struct {
	client SecretsClient
	arn    string
	ttl    time.Duration
	now    func() time.Time

	mu  sync.Mutex
	raw string
	at  time.Time
}

// NewRotatingSecret returns a cache of the secret arn (TTL default 1 min).
func NewRotatingSecret(client SecretsClient, arn string, ttl time.Duration) *RotatingSecret {
	if ttl <= 0 {
		ttl = time.Minute
	}
	return &RotatingSecret{client: client, arn: arn, ttl: ttl, now: time.Now}
}

// Raw returns the secret string, fetched again when older than the TTL. If
// the refresh fails the previous value is kept (Secrets Manager being
// unreachable must not break reconnects with a still valid password).
func (r *RotatingSecret) Raw(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.raw != "" && r.now().Sub(r.at) < r.ttl {
		return r.raw, nil
	}
	out, err := r.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.arn)})
	if err == nil && out.SecretString == nil {
		err = errors.New("no SecretString")
	}
	if err != nil {
		if r.raw != "" {
			return r.raw, nil
		}
		return "", err
	}
	r.raw, r.at = *out.SecretString, r.now()
	return r.raw, nil
}

// DatabaseCredentials returns the current user and password of a database
// secret.
func (r *RotatingSecret) DatabaseCredentials(ctx context.Context) (user, password string, err error) {
	raw, err := r.Raw(ctx)
	if err != nil {
		return "", "", err
	}
	var s dbSecret
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", "", errors.New("database secret is not the expected JSON object")
	}
	return string(s.Username), string(s.Password), nil
}

// AdminToken returns the current admin token: a rotated token is in force
// within the TTL, without a restart. A rotated value that is too short is
// an error (the admin API then refuses everyone rather than accept it).
func (r *RotatingSecret) AdminToken(ctx context.Context) (string, error) {
	raw, err := r.Raw(ctx)
	if err != nil {
		return "", err
	}
	return AdminTokenValue(raw)
}

// RedisCredentials returns the current auth token of a cache secret (Redis
// AUTH with the default user: empty username).
func (r *RotatingSecret) RedisCredentials(ctx context.Context) (user, password string, err error) {
	raw, err := r.Raw(ctx)
	if err != nil {
		return "", "", err
	}
	var s cacheSecret
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", "", errors.New("redis secret is not the expected JSON object")
	}
	return "", string(s.AuthToken), nil
}
