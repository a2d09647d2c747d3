package database

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tInstance      = "aws:rds/instance:Instance"
	tParams        = "aws:rds/parameterGroup:ParameterGroup"
	tSubnetGroup   = "aws:rds/subnetGroup:SubnetGroup"
	tSecret        = "aws:secretsmanager/secret:Secret"
	tSecretVersion = "aws:secretsmanager/secretVersion:SecretVersion"
	tPassword      = "random:index/randomPassword:RandomPassword"
	tRole          = "aws:iam/role:Role"
)

var azs = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}

func prodArgs() *PostgresArgs {
	return &PostgresArgs{
		Spec: Spec{
			EngineVersion:             "16.4",
			InstanceClass:             "db.r7g.large",
			ReplicaInstanceClass:      "db.r7g.large",
			AllocatedStorageGiB:       100,
			MaxAllocatedStorageGiB:    1000,
			MultiAZ:                   true,
			Replicas:                  2,
			BackupRetentionDays:       14,
			DeletionProtection:        true,
			PerformanceInsights:       true,
			MonitoringIntervalSeconds: 60,
			SlowQueryMs:               250,
		},
		SubnetIDs:         pulumi.ToStringArray([]string{"subnet-data-a", "subnet-data-b", "subnet-data-c"}),
		SecurityGroupID:   pulumi.String("sg-db"),
		AvailabilityZones: azs,
	}
}

func devArgs() *PostgresArgs {
	zero := 0
	return &PostgresArgs{
		Spec:                     Spec{EngineVersion: "16.4", InstanceClass: "db.t4g.micro", BackupRetentionDays: 1},
		SubnetIDs:                pulumi.ToStringArray([]string{"subnet-data-a", "subnet-data-b"}),
		SecurityGroupID:          pulumi.String("sg-db"),
		SkipFinalSnapshot:        true,
		AvailabilityZones:        azs[:2],
		SecretRecoveryWindowDays: &zero,
	}
}

func run(t *testing.T, name string, args *PostgresArgs) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewPostgres(ctx, name, args)
		return err
	})
	require.NoError(t, err)
	return m
}

// instances splits the recorded instances into the primary and replicas.
func instances(t *testing.T, m *pulumitest.Mocks) (pulumitest.Resource, []pulumitest.Resource) {
	t.Helper()
	var primary []pulumitest.Resource
	var replicas []pulumitest.Resource
	for _, r := range m.ByType(tInstance) {
		if r.Has("replicateSourceDb") {
			replicas = append(replicas, r)
		} else {
			primary = append(primary, r)
		}
	}
	require.Len(t, primary, 1, "one primary")
	return primary[0], replicas
}

func TestControls(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	p, replicas := instances(t, m)
	require.Len(t, replicas, 2)
	all := append([]pulumitest.Resource{p}, replicas...)

	for _, r := range all {
		t.Run(r.Name, func(t *testing.T) {
			assert.False(t, r.Bool("publiclyAccessible"), "RDS.2")
			assert.True(t, r.Has("publiclyAccessible"), "RDS.2: explicit")
			assert.True(t, r.Bool("storageEncrypted"), "RDS.3")
			assert.Equal(t, "gp3", r.Str("storageType"))
			assert.True(t, r.Bool("deletionProtection"), "RDS.8 follows the arg")
			assert.Equal(t, []string{"postgresql", "upgrade"}, r.Strings("enabledCloudwatchLogsExports"), "RDS.9/RDS.36")
			assert.True(t, r.Bool("iamDatabaseAuthenticationEnabled"), "RDS.10")
			assert.True(t, r.Bool("autoMinorVersionUpgrade"), "RDS.13")
			assert.True(t, r.Bool("copyTagsToSnapshot"), "RDS.17")
			assert.Equal(t, 60.0, r.Num("monitoringInterval"), "RDS.6")
			assert.True(t, r.Has("monitoringRoleArn"), "RDS.6 needs a role")
			assert.True(t, r.Bool("performanceInsightsEnabled"), "CKV_AWS_353")
			assert.Equal(t, 7.0, r.Num("performanceInsightsRetentionPeriod"))
			assert.Equal(t, "rds-ca-rsa2048-g1", r.Str("caCertIdentifier"), "CKV_AWS_211")
			assert.Equal(t, []string{"sg-db"}, r.Strings("vpcSecurityGroupIds"), "never the VPC default SG")
			assert.False(t, r.Has("manageMasterUserPassword"), "docs/decisions/replica-passwords.md: RDS-managed password breaks replicas")
			assert.Equal(t, "surge-prod-db-postgres16", r.Str("parameterGroupName"))
		})
	}
	t.Run("RDS.5_primary", func(t *testing.T) {
		assert.True(t, p.Bool("multiAz"), "RDS.5")
		assert.False(t, p.Has("availabilityZone"), "no explicit AZ with Multi-AZ")
		assert.Equal(t, 14.0, p.Num("backupRetentionPeriod"), "RDS.11")
		assert.Equal(t, "postgres", p.Str("engine"))
		assert.Equal(t, "16.4", p.Str("engineVersion"))
		assert.Equal(t, "surge_admin", p.Str("username"), "RDS.25")
		assert.True(t, p.IsSecret("password"), "password must be a secret")
		assert.Equal(t, 1000.0, p.Num("maxAllocatedStorage"))
		assert.False(t, p.Bool("skipFinalSnapshot"))
		assert.Regexp(t, `^surge-prod-db-final-[0-9a-f]{8}$`, p.Str("finalSnapshotIdentifier"), "a per-incarnation final snapshot name")
		assert.Equal(t, "surge-prod-db", p.Str("dbSubnetGroupName"), "RDS.18: in the VPC's data subnets")
	})
	t.Run("replicas_inherit_credentials", func(t *testing.T) {
		for i, r := range replicas {
			assert.Equal(t, "surge-prod-db", r.Str("replicateSourceDb"), "replica %d source is the primary's identifier", i)
			for _, k := range []string{"username", "password", "dbName", "dbSubnetGroupName", "manageMasterUserPassword", "finalSnapshotIdentifier", "engineVersion"} {
				assert.False(t, r.Has(k), "replica %d must not set %s", i, k)
			}
			assert.True(t, r.Bool("skipFinalSnapshot"), "replicas cannot take a final snapshot")
		}
		assert.Equal(t, "eu-west-1b", replicas[0].Str("availabilityZone"), "replica 1 spread to AZ 2")
		assert.Equal(t, "eu-west-1c", replicas[1].Str("availabilityZone"), "replica 2 spread to AZ 3")
	})
	t.Run("CKV2_AWS_69_force_ssl_and_slow_log", func(t *testing.T) {
		pgs := m.ByType(tParams)
		require.Len(t, pgs, 1)
		assert.Equal(t, "postgres16", pgs[0].Str("family"))
		got := map[string]string{}
		for i := 0; i < pgs[0].Len("parameters"); i++ {
			v, _ := pgs[0].Get("parameters")
			p := v.ArrayValue()[i].ObjectValue()
			got[p["name"].StringValue()] = p["value"].StringValue()
		}
		assert.Equal(t, "1", got["rds.force_ssl"])
		assert.Equal(t, "250", got["log_min_duration_statement"])
	})
	t.Run("subnet_group_data_subnets", func(t *testing.T) {
		sg := m.ByType(tSubnetGroup)
		require.Len(t, sg, 1)
		assert.Equal(t, []string{"subnet-data-a", "subnet-data-b", "subnet-data-c"}, sg[0].Strings("subnetIds"))
	})
	t.Run("password_charset", func(t *testing.T) {
		pw := m.ByType(tPassword)
		require.Len(t, pw, 2, "the master's and the app role's")
		for _, p := range pw {
			assert.Equal(t, 32.0, p.Num("length"))
			special := p.Str("overrideSpecial")
			require.NotEmpty(t, special)
			assert.False(t, strings.ContainsAny(special, RDSForbidden), "%s: overrideSpecial %q must avoid %q", p.Name, special, RDSForbidden)
		}
	})
	t.Run("enhanced_monitoring_role", func(t *testing.T) {
		roles := m.ByType(tRole)
		require.Len(t, roles, 1)
		assert.Contains(t, roles[0].Str("assumeRolePolicy"), "monitoring.rds.amazonaws.com")
	})
}

// secretDoc returns the secret and the decoded JSON of the version stored
// under the secret's logical name.
func secretDoc(t *testing.T, m *pulumitest.Mocks, logical string) (pulumitest.Resource, pulumitest.Resource, map[string]any) {
	t.Helper()
	var secret, version pulumitest.Resource
	for _, r := range m.ByType(tSecret) {
		if r.Name == logical {
			secret = r
		}
	}
	for _, r := range m.ByType(tSecretVersion) {
		if r.Name == logical {
			version = r
		}
	}
	require.NotEmpty(t, secret.Name, "secret %s", logical)
	require.NotEmpty(t, version.Name, "secret version %s", logical)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(version.Str("secretString")), &doc))
	return secret, version, doc
}

func TestSecret(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	require.Len(t, m.ByType(tSecret), 2, "the master's and the app role's")
	s, v, doc := secretDoc(t, m, "surge-prod-db-secret")
	assert.Equal(t, 7.0, s.Num("recoveryWindowInDays"))
	assert.True(t, strings.HasPrefix(s.Str("namePrefix"), "surge-prod-db-credentials-"))
	assert.True(t, v.IsSecret("secretString"), "secret string must be a Pulumi secret")
	for _, k := range []string{"engine", "host", "port", "username", "password", "dbname", "readHost"} {
		assert.Contains(t, doc, k, "secret JSON key")
	}
	assert.Equal(t, "surge-prod-db.abc.eu-west-1.rds.amazonaws.com", doc["host"])
	assert.Equal(t, "surge-prod-db-replica-1.abc.eu-west-1.rds.amazonaws.com", doc["readHost"])
	assert.Equal(t, 5432.0, doc["port"])
	assert.Equal(t, "surge_admin", doc["username"])
	assert.Equal(t, strings.Repeat("x", 32), doc["password"], "the random password (mock: x*32)")
	assert.Equal(t, "surge", doc["dbname"])
}

// TestAppRoleSecret: the app's own credentials, a second generated
// password under another user name, in a secret of its own (the fleet can
// be given this one without the master's).
func TestAppRoleSecret(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	s, v, doc := secretDoc(t, m, "surge-prod-db-app-secret")
	assert.Equal(t, 7.0, s.Num("recoveryWindowInDays"))
	assert.True(t, strings.HasPrefix(s.Str("namePrefix"), "surge-prod-db-app-credentials-"))
	assert.True(t, v.IsSecret("secretString"), "secret string must be a Pulumi secret")
	assert.Equal(t, "surge_app", doc["username"], "the app role, not the master")
	assert.Equal(t, "surge-prod-db.abc.eu-west-1.rds.amazonaws.com", doc["host"])
	assert.Equal(t, "surge-prod-db-replica-1.abc.eu-west-1.rds.amazonaws.com", doc["readHost"], "replicas are read with the same role")
	assert.Equal(t, "surge", doc["dbname"])
	assert.Equal(t, 5432.0, doc["port"])

	var pw []pulumitest.Resource
	for _, r := range m.ByType(tPassword) {
		if r.Name == "surge-prod-db-app" {
			pw = append(pw, r)
		}
	}
	require.Len(t, pw, 1, "a password generated for the app role")
	assert.Equal(t, 32.0, pw[0].Num("length"))
	assert.Equal(t, PasswordSpecials, pw[0].Str("overrideSpecial"), "URL-safe specials")

	err := pulumitest.New().Run(t, "test", nil, func(ctx *pulumi.Context) error {
		db, err := NewPostgres(ctx, "surge-prod", prodArgs())
		if err != nil {
			return err
		}
		master, _, err := pulumitest.Await(ctx.Context(), db.SecretARN)
		require.NoError(t, err)
		app, _, err := pulumitest.Await(ctx.Context(), db.AppSecretARN)
		require.NoError(t, err)
		assert.NotEmpty(t, app)
		assert.NotEqual(t, master, app, "two secrets")
		return nil
	})
	require.NoError(t, err)
}

// TestCACertificateIdentifier: the CA the app's verify-full trusts is set
// explicitly on every instance, not left to the account default.
func TestCACertificateIdentifier(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	for _, r := range m.ByType(tInstance) {
		assert.Equal(t, "rds-ca-rsa2048-g1", r.Str("caCertIdentifier"), "instance %s", r.Name)
	}
}

func TestOutputs(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		db, err := NewPostgres(ctx, "surge-prod", prodArgs())
		if err != nil {
			return err
		}
		pw, _, err := pulumitest.Await(ctx.Context(), db.MasterPassword)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("x", 32), pw)
		eps, _, err := pulumitest.Await(ctx.Context(), db.ReplicaEndpoints)
		require.NoError(t, err)
		assert.Len(t, eps, 2)
		id, _, err := pulumitest.Await(ctx.Context(), db.Identifier)
		require.NoError(t, err)
		assert.Equal(t, "surge-prod-db", id)
		return nil
	})
	require.NoError(t, err)
}

func TestDev(t *testing.T) {
	m := run(t, "surge-dev", devArgs())
	p, replicas := instances(t, m)
	assert.Empty(t, replicas)
	assert.False(t, p.Bool("multiAz"), "dev is single-AZ")
	assert.True(t, p.Has("multiAz"), "multiAz explicit")
	assert.Equal(t, "eu-west-1a", p.Str("availabilityZone"))
	assert.False(t, p.Bool("deletionProtection"))
	assert.True(t, p.Bool("skipFinalSnapshot"))
	assert.False(t, p.Has("finalSnapshotIdentifier"))
	assert.Equal(t, 1.0, p.Num("backupRetentionPeriod"))
	assert.Equal(t, 100.0, p.Num("maxAllocatedStorage"), "default ceiling 5x allocated")
	assert.Equal(t, 0.0, p.Num("monitoringInterval"))
	assert.False(t, p.Has("monitoringRoleArn"))
	assert.Empty(t, m.ByType(tRole))
	for _, logical := range []string{"surge-dev-db-secret", "surge-dev-db-app-secret"} {
		s, _, doc := secretDoc(t, m, logical)
		assert.Equal(t, 0.0, s.Num("recoveryWindowInDays"))
		assert.True(t, s.Has("recoveryWindowInDays"))
		assert.Equal(t, doc["host"], doc["readHost"], "no replica: reads go to the writer")
	}
}

func TestTwoDatabasesDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		if _, err := NewPostgres(ctx, "surge-blue", prodArgs()); err != nil {
			return err
		}
		_, err := NewPostgres(ctx, "surge-green", prodArgs())
		return err
	})
	require.NoError(t, err)
	m.AssertUniqueNames(t)
	ids := map[string]bool{}
	for _, r := range m.ByType(tInstance) {
		id := r.Str("identifier")
		assert.False(t, ids[id], "identifier %s reused", id)
		ids[id] = true
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *PostgresArgs)
		want   []string
	}{
		{"valid", func(a *PostgresArgs) {}, nil},
		{"engine 12", func(a *PostgresArgs) { a.EngineVersion = "12.9" }, []string{`engineVersion: "12.9"`}},
		{"engine with patch level", func(a *PostgresArgs) { a.EngineVersion = "16.4.1" }, []string{`engineVersion: "16.4.1"`}},
		{"x86 class", func(a *PostgresArgs) { a.InstanceClass = "db.m5.large" }, []string{`instanceClass: "db.m5.large" is not a Graviton`}},
		{"replicas without backups", func(a *PostgresArgs) { a.BackupRetentionDays = 0 }, []string{"backupRetentionDays: must be at least 1 when replicas > 0"}},
		{"sixteen replicas", func(a *PostgresArgs) { a.Replicas = 16 }, []string{"replicas: 16 is outside 0..15"}},
		{"reserved username, any case", func(a *PostgresArgs) { a.Username = "RDSAdmin" }, []string{"username: \"RDSAdmin\""}},
		{"negative replicas", func(a *PostgresArgs) { a.Replicas = -1 }, []string{"replicas: -1 is outside 0..15"}},
		{"ceiling not above", func(a *PostgresArgs) { a.MaxAllocatedStorageGiB = 100 }, []string{"maxAllocatedStorageGiB: 100 must be greater than"}},
		{"retention 40", func(a *PostgresArgs) { a.BackupRetentionDays = 40 }, []string{"backupRetentionDays: 40 is outside"}},
		{"default username", func(a *PostgresArgs) { a.Username = "postgres" }, []string{"RDS.25"}},
		{"app user is the master", func(a *PostgresArgs) { a.Username, a.AppUsername = "surge_admin", "surge_admin" }, []string{"AppUsername \"surge_admin\" must differ"}},
		{"app user quoted name", func(a *PostgresArgs) { a.AppUsername = "SurgeApp" }, []string{"AppUsername \"SurgeApp\" must be lowercase"}},
		{"app user reserved", func(a *PostgresArgs) { a.AppUsername = "rds_app" }, []string{"AppUsername \"rds_app\""}},
		{"bad monitoring", func(a *PostgresArgs) { a.MonitoringIntervalSeconds = 7 }, []string{"monitoringIntervalSeconds: 7"}},
		{"bad PI retention", func(a *PostgresArgs) { a.PerformanceInsightsRetentionDays = 30 }, []string{"PerformanceInsightsRetentionDays 30"}},
		{"bad windows", func(a *PostgresArgs) { a.BackupWindow, a.MaintenanceWindow = "3am", "Sun:03:00-Sun:04:00" }, []string{"BackupWindow", "MaintenanceWindow"}},
		{"duplicate AZ", func(a *PostgresArgs) { a.AvailabilityZones = []string{"a", "a"} }, []string{"AvailabilityZones"}},
		{"secret window", func(a *PostgresArgs) { d := 3; a.SecretRecoveryWindowDays = &d }, []string{"SecretRecoveryWindowDays 3"}},
		{"missing inputs", func(a *PostgresArgs) { a.SubnetIDs, a.SecurityGroupID = nil, nil }, []string{"SubnetIDs is required", "SecurityGroupID is required"}},
		{"every problem at once", func(a *PostgresArgs) {
			a.EngineVersion, a.InstanceClass, a.BackupRetentionDays, a.Port = "9.6", "db.t3.micro", 0, 80
		}, []string{"engineVersion", "instanceClass", "backupRetentionDays: must be at least 1", "Port 80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := prodArgs()
			tt.mutate(a)
			d := a.withDefaults()
			err := d.validate("surge-prod")
			if tt.want == nil {
				assert.NoError(t, err, "validate(%s)", tt.name)
				return
			}
			require.Error(t, err, "validate(%s)", tt.name)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w, "validate(%s)", tt.name)
			}
		})
	}
	err := (&PostgresArgs{}).validate("x")
	require.Error(t, err, "zero args are invalid")
}

// A major-only version lets RDS pick the newest minor (old minors stop being
// creatable, e.g. 16.8 since May 2026); the parameter group family follows it.
func TestMajorOnlyEngineVersion(t *testing.T) {
	a := devArgs()
	a.EngineVersion = "17"
	m := run(t, "surge-dev", a)
	primary, _ := instances(t, m)
	assert.Equal(t, "17", primary.Str("engineVersion"))
	assert.True(t, primary.Bool("autoMinorVersionUpgrade"), "a major-only version relies on minor upgrades")
	groups := m.ByType("aws:rds/parameterGroup:ParameterGroup")
	require.Len(t, groups, 1)
	assert.Equal(t, "postgres17", groups[0].Str("family"))
}

func TestPasswordSpecialsAreURLSafe(t *testing.T) {
	assert.False(t, strings.ContainsAny(PasswordSpecials, RDSForbidden), "RDS forbids %q", RDSForbidden)
	pw := "Ab1" + PasswordSpecials
	u := "postgres://surge_admin:" + pw + "@db.example:5432/surge"
	parsed, err := url.Parse(u)
	require.NoError(t, err, "unescaped password must parse in a URL")
	got, _ := parsed.User.Password()
	assert.Equal(t, pw, got)
}

// TestChildrenParentedAndNamedFromComponent guards STYLE: every resource
// the component declares is parented to it (so it inherits the stack's
// per-component provider and default tags) and named from its name.
func TestChildrenParentedAndNamedFromComponent(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	m.AssertChildrenOf(t, "surge:database:Postgres", "surge-prod")
}

// The read endpoint and the replica list come from the component: the
// stack never recounts replicas from its config.
func TestReadEndpointAndReplicaIDs(t *testing.T) {
	tests := []struct {
		name     string
		args     *PostgresArgs
		replicas int
		read     string
	}{
		{"two replicas: the first serves reads", prodArgs(), 2, "surge-prod-db-replica-1"},
		{"no replica: the writer serves reads", devArgs(), 0, "surge-prod-db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var read string
			var n int
			err := pulumitest.New().Run(t, "test", nil, func(ctx *pulumi.Context) error {
				db, err := NewPostgres(ctx, "surge-prod", tt.args)
				if err != nil {
					return err
				}
				n = len(db.ReplicaIDs)
				v, _, err := pulumitest.Await(ctx.Context(), db.ReadEndpoint)
				if err != nil {
					return err
				}
				read, _ = v.(string)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, tt.replicas, n)
			assert.True(t, strings.HasPrefix(read, tt.read+"."), "read endpoint %q", read)
		})
	}
}
