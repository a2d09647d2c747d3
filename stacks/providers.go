package stacks

import (
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Providers are the two AWS providers the stack uses: the stack's region for
// everything, us-east-1 for what CloudFront requires there (its ACM
// certificate, the CLOUDFRONT-scope web ACL and their logs and alarms).
type Providers struct {
	Regional *aws.Provider
	USEast1  *aws.Provider
}

// USEast1ProviderName is the logical name of the us-east-1 provider; tests
// find resources declared with it by this name.
const USEast1ProviderName = "us-east-1"

// newProviders declares both providers with the stack-wide default tags.
// One provider per region (not per component) keeps `pulumi up` to two
// provider plugin processes; the component tag is added per resource by
// componentTags.
func newProviders(ctx *pulumi.Context, c *Config) (*Providers, error) {
	tags := &aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
		"project":     pulumi.String(c.Project),
		"stack":       pulumi.String(c.Stack),
		"environment": pulumi.String(string(c.Environment)),
		"managed-by":  pulumi.String("pulumi"),
	}}
	regional, err := aws.NewProvider(ctx, "aws", &aws.ProviderArgs{Region: pulumi.String(c.Region), DefaultTags: tags})
	if err != nil {
		return nil, fmt.Errorf("declaring the %s provider: %w", c.Region, err)
	}
	east, err := aws.NewProvider(ctx, USEast1ProviderName, &aws.ProviderArgs{Region: pulumi.String("us-east-1"), DefaultTags: tags})
	if err != nil {
		return nil, fmt.Errorf("declaring the us-east-1 provider: %w", err)
	}
	return &Providers{Regional: regional, USEast1: east}, nil
}

var stringMapInput = reflect.TypeOf((*pulumi.StringMapInput)(nil)).Elem()

// componentTags tags every taggable child of a component with
// component=<name>. A resource is taggable exactly when its Args struct has a
// `Tags pulumi.StringMapInput` field, so the transformation never adds a
// property a resource type does not have (which would fail at apply time).
// Resource-level tags and provider default tags use disjoint keys, so the
// provider never sees the same key twice.
func componentTags(component string) pulumi.ResourceOption {
	return pulumi.Transformations([]pulumi.ResourceTransformation{
		func(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
			v := reflect.ValueOf(args.Props)
			if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
				return nil
			}
			f := v.Elem().FieldByName("Tags")
			if !f.IsValid() || !f.CanSet() || f.Type() != stringMapInput {
				return nil
			}
			var merged pulumi.StringMapInput = pulumi.StringMap{"component": pulumi.String(component)}
			if !f.IsNil() {
				existing := f.Interface().(pulumi.StringMapInput)
				merged = existing.ToStringMapOutput().ApplyT(func(m map[string]string) map[string]string {
					out := make(map[string]string, len(m)+1)
					for k, v := range m {
						out[k] = v
					}
					out["component"] = component
					return out
				}).(pulumi.StringMapOutput)
			}
			f.Set(reflect.ValueOf(merged))
			return &pulumi.ResourceTransformationResult{Props: args.Props, Opts: args.Opts}
		},
	})
}
