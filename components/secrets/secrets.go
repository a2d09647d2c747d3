// Package secrets holds the app's generated admin API token in Secrets
// Manager. The token is born in state as a Pulumi secret and leaves it only
// for Secrets Manager: never config, user data or logs.
package secrets

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
)

// AdminTokenArgs configure the token.
type AdminTokenArgs struct {
	// Length is the token length, 32..128. Default 48 (about 285 bits of
	// alphanumerics: long enough that online guessing is hopeless).
	Length int
	// RecoveryWindowDays is how long a deleted secret can be restored:
	// 0 (delete at once, for dev) or 7..30. Default 7.
	RecoveryWindowDays *int
}

func (a *AdminTokenArgs) defaults() {
	if a.Length == 0 {
		a.Length = 48
	}
	if a.RecoveryWindowDays == nil {
		seven := 7
		a.RecoveryWindowDays = &seven
	}
}

func (a *AdminTokenArgs) validate() error {
	var errs []error
	if a.Length < 32 || a.Length > 128 {
		errs = append(errs, fmt.Errorf("Length %d is outside 32..128", a.Length))
	}
	if w := *a.RecoveryWindowDays; w != 0 && (w < 7 || w > 30) {
		errs = append(errs, fmt.Errorf("RecoveryWindowDays %d must be 0 or 7..30", w))
	}
	return errors.Join(errs...)
}

// AdminToken is the surge:secrets:AdminToken component.
type AdminToken struct {
	pulumi.ResourceState

	// SecretARN is the Secrets Manager secret (a plain string value),
	// resolved once the value is stored, so readers never see an empty one.
	SecretARN pulumi.StringOutput
}

// NewAdminToken generates the token and stores it.
func NewAdminToken(ctx *pulumi.Context, name string, args *AdminTokenArgs, opts ...pulumi.ResourceOption) (*AdminToken, error) {
	if args == nil {
		args = &AdminTokenArgs{}
	}
	a := *args
	a.defaults()
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("admin token %s: %w", name, err)
	}
	c := &AdminToken{}
	if err := ctx.RegisterComponentResource("surge:secrets:AdminToken", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering admin token %s: %w", name, err)
	}
	parent := pulumi.Parent(c)
	// Alphanumeric only: it travels in an Authorization header and shell
	// commands without quoting trouble.
	token, err := random.NewRandomPassword(ctx, name+"-admin-token", &random.RandomPasswordArgs{
		Length:  pulumi.Int(a.Length),
		Special: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("generating admin token: %w", err)
	}
	c.SecretARN, err = Store(ctx, name+"-admin-token", naming.Physical(name, "admin-token", 200),
		"surge admin API bearer token (SURGE_ADMIN_TOKEN_SECRET_ARN)", token.Result, *a.RecoveryWindowDays, parent)
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"secretArn": c.SecretARN}); err != nil {
		return nil, fmt.Errorf("registering admin token outputs: %w", err)
	}
	return c, nil
}
