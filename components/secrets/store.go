package secrets

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Store declares a Secrets Manager secret named from namePrefix (a prefix,
// not a fixed name: a destroyed stack's secret may still sit in its
// recovery window when the stack is created again) and its one version
// holding value, kept a Pulumi secret. Both resources are named logical.
//
// It returns the version's ARN, which is the secret's ARN but resolves only
// once the value is stored, so consumers (the fleet's role and user data)
// never read an empty secret.
func Store(ctx *pulumi.Context, logical, namePrefix, description string, value pulumi.StringInput, recoveryWindowDays int, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	secret, err := secretsmanager.NewSecret(ctx, logical, &secretsmanager.SecretArgs{
		NamePrefix:           pulumi.String(namePrefix + "-"),
		Description:          pulumi.String(description),
		RecoveryWindowInDays: pulumi.Int(recoveryWindowDays),
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("creating secret %s: %w", logical, err)
	}
	version, err := secretsmanager.NewSecretVersion(ctx, logical, &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: pulumi.ToSecret(value).(pulumi.StringOutput),
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("storing secret %s: %w", logical, err)
	}
	return version.Arn, nil
}
