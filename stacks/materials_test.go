package stacks

import (
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/internal/pulumitest"
)

// TestCourseMaterialsWiring: the app gets what course materials need (the
// bucket, the site's origin for links, the public key's ID and the private
// key's secret ARN, never the key), /media/* trusts exactly the stack's
// key group, and uploads may come from the site's origin only.
func TestCourseMaterialsWiring(t *testing.T) {
	for _, tc := range []struct {
		name, stack, origin string
		cfg                 func(map[string]string) map[string]string
	}{
		{"no domain", "dev", "https://d111111abcdef8.cloudfront.net", func(c map[string]string) map[string]string { return c }},
		{"domain", "prod", "https://register.example.edu", withDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := runStack(t, tc.stack, tc.cfg(stackConfig(t, tc.stack)))
			name := "surge-" + tc.stack
			kg := one(t, m, "aws:cloudfront/keyGroup:KeyGroup")
			pk := one(t, m, "aws:cloudfront/publicKey:PublicKey")
			assert.Equal(t, []string{pk.Name + "-id"}, kg.Strings("items"))
			assert.True(t, strings.HasPrefix(pk.Str("encodedKey"), "-----BEGIN PUBLIC KEY-----"))

			d := one(t, m, tDistribution)
			found := false
			for i := range d.Len("orderedCacheBehaviors") {
				b := "orderedCacheBehaviors[" + strconv.Itoa(i) + "]"
				if d.Str(b+".pathPattern") != "/media/*" {
					continue
				}
				found = true
				assert.Equal(t, []string{kg.Name + "-id"}, d.Strings(b+".trustedKeyGroups"), "/media/* refuses unsigned requests")
			}
			assert.True(t, found, "a /media/* behaviour")

			lt := one(t, m, tTemplate)
			raw, err := base64.StdEncoding.DecodeString(lt.Str("userData"))
			require.NoError(t, err)
			ud := string(raw)
			secret := pulumitest.FakeARN("aws:secretsmanager/secretVersion:SecretVersion", name+"-media-signing-key")
			for _, want := range []string{
				`SURGE_MEDIA_BUCKET="` + storage.BucketName(name, storage.KindUploads, pulumitest.Account, pulumitest.Region) + `"`,
				`SURGE_MEDIA_BASE_URL="` + tc.origin + `"`,
				`SURGE_MEDIA_KEY_PAIR_ID="` + pk.Name + `-id"`,
				`SURGE_MEDIA_SIGNING_KEY_SECRET_ARN="` + secret + `"`,
			} {
				assert.Contains(t, ud, want)
			}
			assert.NotContains(t, ud, "PRIVATE KEY", "the key itself never reaches user data")

			var policy string
			for _, r := range m.ByType("aws:iam/rolePolicy:RolePolicy") {
				if r.Name == name+"-app-policy" {
					policy = r.Str("policy")
				}
			}
			assert.Contains(t, policy, `"`+secret+`"`, "the role reads the signing key")
			assert.Contains(t, policy, "/media/materials/*", "and writes under the materials prefix")

			cors := one(t, m, "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2")
			assert.Equal(t, []string{tc.origin}, cors.Strings("corsRules[0].allowedOrigins"))
			assert.Equal(t, []string{"POST"}, cors.Strings("corsRules[0].allowedMethods"))
		})
	}
}

// The prefix the role may write under is the one the app puts keys under.
func TestMaterialsPrefixMatchesTheApp(t *testing.T) {
	b, err := os.ReadFile("../app/internal/surge/materials.go")
	require.NoError(t, err)
	assert.Contains(t, string(b), `const MaterialsPrefix = "`+storage.MaterialsPrefix+`"`)
}
