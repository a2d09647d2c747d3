// Package database declares RDS PostgreSQL: an encrypted primary (Multi-AZ in
// prod) in the data subnets, read replicas spread over the AZs, a parameter
// group forcing TLS and logging slow statements, and two Secrets Manager
// secrets: the master credentials (read by `surge migrate` only) and the
// least-privileged app role's (read by `surge serve`), which `surge migrate`
// creates in the database.
package database

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/secrets"
	"github.com/surge-dev/surge/components/spec"
)

// PasswordSpecials are the special characters of the generated master
// password: characters RDS accepts (it forbids '/', '"', '@' and space) that
// are also legal unescaped in a URL's userinfo (RFC 3986 unreserved and
// sub-delims, without quote, comma and semicolon), so a postgres:// URL built
// from the secret cannot break whatever the client's escaping.
const PasswordSpecials = "!$&()*+=-._~"

// RDSForbidden are the characters RDS refuses in a master password.
const RDSForbidden = `/"@ `

const (
	enhancedMonitoringPolicyARN = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
	defaultCACert               = "rds-ca-rsa2048-g1"
)

// Spec is the database's static shape: `surge:database` in the stack
// config. Defaults gives its per-environment values.
type Spec struct {
	EngineVersion          string `json:"engineVersion"`          // Major ("17": latest minor, which RDS upgrades; the provider suppresses the diff) or major.minor; major 13..19.
	InstanceClass          string `json:"instanceClass"`          // Graviton class (db.t4g.*, db.m7g.*, db.r7g.*, ...).
	ReplicaInstanceClass   string `json:"replicaInstanceClass"`   // Graviton class of the read replicas; "" = instanceClass.
	AllocatedStorageGiB    int    `json:"allocatedStorageGiB"`    // Initial gp3 storage, 20..65536.
	MaxAllocatedStorageGiB int    `json:"maxAllocatedStorageGiB"` // Storage autoscaling ceiling, above allocatedStorageGiB, at most 65536.
	MultiAZ                bool   `json:"multiAz"`                // Synchronous standby in another AZ (RDS.5).
	Replicas               int    `json:"replicas"`               // Read replicas, 0..15 (the RDS for PostgreSQL limit per source); need backupRetentionDays >= 1.
	BackupRetentionDays    int    `json:"backupRetentionDays"`    // Days of automated backups, 0..35.
	DeletionProtection     bool   `json:"deletionProtection"`     // Refuse deletion (RDS.8); also keeps a final snapshot on delete.
	PerformanceInsights    bool   `json:"performanceInsights"`    // Performance Insights on the primary and the replicas (7 days, free tier).
	DBName                 string `json:"dbName"`                 // Database created on the primary: a-z, 0-9 and _, starting with a letter.
	Username               string `json:"username"`               // Master user (read by `surge migrate` only); not a reserved name such as postgres (RDS.25).
	SlowQueryMs            int    `json:"slowQueryMs"`            // log_min_duration_statement in milliseconds; -1 turns it off.
	// MonitoringIntervalSeconds is RDS enhanced monitoring: it costs, so dev
	// leaves it off; prod sees a rush as it happens.
	MonitoringIntervalSeconds int `json:"monitoringIntervalSeconds"` // Enhanced monitoring interval (RDS.6): 0 (off), 1, 5, 10, 15, 30 or 60 seconds.
}

// Defaults are the environment's values: dev a single small instance, prod
// Multi-AZ with a replica and two weeks of backups.
func Defaults(env spec.Env) Spec {
	s := Spec{
		EngineVersion: "17", InstanceClass: "db.t4g.micro", AllocatedStorageGiB: 20, MaxAllocatedStorageGiB: 100,
		BackupRetentionDays: 1, PerformanceInsights: true, DBName: "surge", Username: "surge_admin", SlowQueryMs: 250,
	}
	if env == spec.Prod {
		s.InstanceClass = "db.r7g.large"
		s.AllocatedStorageGiB, s.MaxAllocatedStorageGiB = 100, 1000
		s.MultiAZ, s.Replicas = true, 1
		s.BackupRetentionDays, s.DeletionProtection = 14, true
		s.MonitoringIntervalSeconds = 15
	}
	return s
}

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	if maj := major(s.EngineVersion); maj < 13 || maj > 19 {
		p.Add("engineVersion", "%q is not a supported PostgreSQL version (major 13..19, e.g. \"17\" or \"17.6\")", s.EngineVersion)
	}
	if !spec.Graviton("db.", s.InstanceClass) {
		p.Add("instanceClass", "%q is not a Graviton RDS class (e.g. db.t4g.micro, db.r7g.large)", s.InstanceClass)
	}
	if s.ReplicaInstanceClass != "" && !spec.Graviton("db.", s.ReplicaInstanceClass) {
		p.Add("replicaInstanceClass", "%q is not a Graviton RDS class (e.g. db.t4g.micro, db.r7g.large)", s.ReplicaInstanceClass)
	}
	if s.AllocatedStorageGiB < 20 || s.AllocatedStorageGiB > 65536 {
		p.Add("allocatedStorageGiB", "%d is outside 20..65536 (gp3 limits)", s.AllocatedStorageGiB)
	}
	if s.MaxAllocatedStorageGiB <= s.AllocatedStorageGiB || s.MaxAllocatedStorageGiB > 65536 {
		p.Add("maxAllocatedStorageGiB", "%d must be greater than allocatedStorageGiB (%d) and at most 65536 for storage autoscaling", s.MaxAllocatedStorageGiB, s.AllocatedStorageGiB)
	}
	if s.Replicas < 0 || s.Replicas > 15 {
		p.Add("replicas", "%d is outside 0..15", s.Replicas)
	}
	if s.BackupRetentionDays < 0 || s.BackupRetentionDays > 35 {
		p.Add("backupRetentionDays", "%d is outside 0..35", s.BackupRetentionDays)
	}
	if s.Replicas > 0 && s.BackupRetentionDays < 1 {
		p.Add("backupRetentionDays", "must be at least 1 when replicas > 0 (RDS creates replicas from backups)")
	}
	if !pgIdentifier.MatchString(s.DBName) {
		p.Add("dbName", "%q must start with a letter and hold only a-z, 0-9 and _ (at most 63)", s.DBName)
	}
	if !pgIdentifier.MatchString(s.Username) || spec.ReservedDBUser(s.Username) {
		p.Add("username", "%q is not a valid, unreserved PostgreSQL user name (RDS.25)", s.Username)
	}
	if s.SlowQueryMs < -1 {
		p.Add("slowQueryMs", "%d must be -1 (off) or more", s.SlowQueryMs)
	}
	switch s.MonitoringIntervalSeconds {
	case 0, 1, 5, 10, 15, 30, 60:
	default:
		p.Add("monitoringIntervalSeconds", "%d must be 0, 1, 5, 10, 15, 30 or 60", s.MonitoringIntervalSeconds)
	}
	return p.Err()
}

// PostgresArgs are the Spec plus what comes from other resources and the
// options the stack config does not expose.
type PostgresArgs struct {
	Spec

	SubnetIDs       pulumi.StringArrayInput // private-data subnets; required
	SecurityGroupID pulumi.StringInput      // the database security group; required
	// AvailabilityZones spread the instances: a single-AZ primary goes to
	// AvailabilityZones[0], replica i to AvailabilityZones[(i+1) % n], so the
	// first replica never shares the primary's AZ. Empty lets RDS choose.
	AvailabilityZones []string

	BackupWindow      string // "hh24:mi-hh24:mi" UTC; empty lets RDS choose
	MaintenanceWindow string // "ddd:hh24:mi-ddd:hh24:mi" UTC; empty lets RDS choose
	// SkipFinalSnapshot skips the snapshot on delete (dev). When false the
	// final snapshot is named after the instance.
	SkipFinalSnapshot bool
	ApplyImmediately  bool // apply modifications now instead of in the maintenance window

	PerformanceInsightsRetentionDays int // 7 (free tier, default) or a multiple of 31 up to 731
	// AppUsername is the role the app connects as, created by `surge
	// migrate` with DML on the app's tables only; default "surge_app".
	AppUsername      string
	Port             int    // default 5432; RDS.23 is a documented exception
	CACertIdentifier string // default "rds-ca-rsa2048-g1" (CKV_AWS_211)
	// SecretRecoveryWindowDays before a deleted secret is gone: 0 (at once,
	// dev) or 7-30; default 7.
	SecretRecoveryWindowDays *int
}

// Postgres is the surge:database:Postgres component.
type Postgres struct {
	pulumi.ResourceState

	WriterEndpoint     pulumi.StringOutput      // primary host name
	Port               pulumi.IntOutput         // listener port
	ReplicaEndpoints   pulumi.StringArrayOutput // replica host names, in replica order
	SecretARN          pulumi.StringOutput      // master secret with {engine, host, port, username, password, dbname, readHost}
	AppSecretARN       pulumi.StringOutput      // app role secret, same keys: what `surge serve` connects with
	Identifier         pulumi.StringOutput      // primary identifier
	ReplicaIdentifiers pulumi.StringArrayOutput
	// ReplicaIDs are the same identifiers one by one: the slice length is
	// the replica count, known while declaring (one alarm per replica).
	ReplicaIDs []pulumi.StringInput
	// ReadEndpoint is where cached reads go: the first replica, or the
	// writer in a database without replicas.
	ReadEndpoint       pulumi.StringOutput
	MasterPassword     pulumi.StringOutput // secret
	ParameterGroupName pulumi.StringOutput // shared by the primary and the replicas
}

var (
	engineVersion = regexp.MustCompile(`^([0-9]+)(?:\.([0-9]+))?$`)
	pgIdentifier  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	dailyWindow   = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weeklyWindow  = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$`)
	rdsIdentifier = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	appRoleName   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
)

func (a PostgresArgs) withDefaults() PostgresArgs {
	if a.ReplicaInstanceClass == "" {
		a.ReplicaInstanceClass = a.InstanceClass
	}
	dev := Defaults(spec.Dev)
	if a.AllocatedStorageGiB == 0 {
		a.AllocatedStorageGiB = dev.AllocatedStorageGiB
	}
	if a.MaxAllocatedStorageGiB == 0 {
		a.MaxAllocatedStorageGiB = 5 * a.AllocatedStorageGiB
	}
	if a.PerformanceInsightsRetentionDays == 0 {
		a.PerformanceInsightsRetentionDays = 7
	}
	if a.DBName == "" {
		a.DBName = dev.DBName
	}
	if a.Username == "" {
		a.Username = dev.Username
	}
	if a.AppUsername == "" {
		a.AppUsername = "surge_app"
	}
	if a.Port == 0 {
		a.Port = 5432
	}
	if a.SlowQueryMs == 0 {
		a.SlowQueryMs = dev.SlowQueryMs
	}
	if a.CACertIdentifier == "" {
		a.CACertIdentifier = defaultCACert
	}
	if a.SecretRecoveryWindowDays == nil {
		d := 7
		a.SecretRecoveryWindowDays = &d
	}
	return a
}

// major is the version's major number; 0 when it is not major[.minor].
func major(version string) int {
	m := engineVersion.FindStringSubmatch(version)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// validate returns every problem of the (defaulted) args at once.
func (a *PostgresArgs) validate(name string) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if a.SubnetIDs == nil {
		add("SubnetIDs is required")
	}
	if a.SecurityGroupID == nil {
		add("SecurityGroupID is required")
	}
	if a.BackupWindow != "" && !dailyWindow.MatchString(a.BackupWindow) {
		add("BackupWindow %q must be hh24:mi-hh24:mi", a.BackupWindow)
	}
	if a.MaintenanceWindow != "" && !weeklyWindow.MatchString(a.MaintenanceWindow) {
		add("MaintenanceWindow %q must be ddd:hh24:mi-ddd:hh24:mi (lowercase days)", a.MaintenanceWindow)
	}
	if r := a.PerformanceInsightsRetentionDays; a.PerformanceInsights && r != 7 && (r%31 != 0 || r > 731) {
		add("PerformanceInsightsRetentionDays %d must be 7 or a multiple of 31 up to 731", r)
	}
	// `surge migrate` accepts lowercase names only (no quoting surprises).
	if !appRoleName.MatchString(a.AppUsername) || strings.HasPrefix(a.AppUsername, "pg_") || strings.HasPrefix(a.AppUsername, "rds") || a.AppUsername == "postgres" {
		add("AppUsername %q must be lowercase letters, digits or _ starting with a letter (max 63), not postgres, pg_* or rds*", a.AppUsername)
	}
	if strings.EqualFold(a.AppUsername, a.Username) {
		add("AppUsername %q must differ from the master Username: the app never connects as the master", a.AppUsername)
	}
	if a.Port < 1150 || a.Port > 65535 {
		add("Port %d must be within 1150-65535", a.Port)
	}
	seen := map[string]bool{}
	for _, z := range a.AvailabilityZones {
		if z == "" || seen[z] {
			add("AvailabilityZones %v must be distinct and non-empty", a.AvailabilityZones)
			break
		}
		seen[z] = true
	}
	if w := a.SecretRecoveryWindowDays; w != nil && *w != 0 && (*w < 7 || *w > 30) {
		add("SecretRecoveryWindowDays %d must be 0 or 7-30", *w)
	}
	if id := naming.Physical(name, "db", naming.MaxRDSIdentifier); !rdsIdentifier.MatchString(id) {
		add("component name %q gives the DB identifier %q, which must start with a letter", name, id)
	}
	return errors.Join(errs...)
}

// NewPostgres declares the database.
func NewPostgres(ctx *pulumi.Context, name string, args *PostgresArgs, opts ...pulumi.ResourceOption) (*Postgres, error) {
	if args == nil {
		return nil, errors.New("database: args are required")
	}
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, fmt.Errorf("database %s: invalid args: %w", name, err)
	}
	c := &Postgres{}
	if err := ctx.RegisterComponentResource("surge:database:Postgres", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering database %s: %w", name, err)
	}
	parent := pulumi.Parent(c)
	engineMajor := major(a.EngineVersion)

	subnets, err := rds.NewSubnetGroup(ctx, name+"-db-subnets", &rds.SubnetGroupArgs{
		Name:        pulumi.String(naming.Physical(name, "db", 255)),
		Description: pulumi.String("surge database: private data subnets"),
		SubnetIds:   a.SubnetIDs,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating db subnet group: %w", err)
	}

	params := rds.ParameterGroupParameterArray{
		// pending-reboot is accepted for static and dynamic parameters alike;
		// a new instance starts with the group's values either way.
		&rds.ParameterGroupParameterArgs{Name: pulumi.String("rds.force_ssl"), Value: pulumi.String("1"), ApplyMethod: pulumi.String("pending-reboot")},
		&rds.ParameterGroupParameterArgs{Name: pulumi.String("log_min_duration_statement"), Value: pulumi.String(strconv.Itoa(a.SlowQueryMs)), ApplyMethod: pulumi.String("immediate")},
	}
	// The family is part of the name so a major upgrade creates the new group
	// next to the old one instead of colliding with it.
	family := fmt.Sprintf("postgres%d", engineMajor)
	pg, err := rds.NewParameterGroup(ctx, name+"-db-params", &rds.ParameterGroupArgs{
		Name:        pulumi.String(naming.Physical(name, "db-"+family, 255)),
		Family:      pulumi.String(family),
		Description: pulumi.String("surge: TLS only, slow statements logged"),
		Parameters:  params,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating db parameter group: %w", err)
	}

	// RandomPassword rather than manageMasterUserPassword: RDS refuses to
	// create a read replica of a source whose password it manages (docs/decisions/replica-passwords.md).
	password, err := random.NewRandomPassword(ctx, name+"-db-master", &random.RandomPasswordArgs{
		Length:          pulumi.Int(32),
		Special:         pulumi.Bool(true),
		OverrideSpecial: pulumi.String(PasswordSpecials),
		MinLower:        pulumi.Int(2),
		MinUpper:        pulumi.Int(2),
		MinNumeric:      pulumi.Int(2),
		MinSpecial:      pulumi.Int(1),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating master password: %w", err)
	}

	var monitoringRole pulumi.StringPtrInput
	var instanceDeps []pulumi.Resource
	if a.MonitoringIntervalSeconds > 0 {
		role, err := iam.NewRole(ctx, name+"-db-monitoring", &iam.RoleArgs{
			Name:             pulumi.String(naming.Physical(name, "db-monitoring", naming.MaxIAMRole)),
			Description:      pulumi.String("RDS enhanced monitoring for surge"),
			AssumeRolePolicy: pulumi.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"monitoring.rds.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating monitoring role: %w", err)
		}
		att, err := iam.NewRolePolicyAttachment(ctx, name+"-db-monitoring", &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(enhancedMonitoringPolicyARN),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("attaching monitoring policy: %w", err)
		}
		monitoringRole = role.Arn
		// RDS checks the role's permissions when the instance is created.
		instanceDeps = append(instanceDeps, att)
	}

	identifier := naming.Physical(name, "db", naming.MaxRDSIdentifier)
	logExports := pulumi.ToStringArray([]string{"postgresql", "upgrade"})
	pa := &rds.InstanceArgs{
		Identifier:                       pulumi.String(identifier),
		Engine:                           pulumi.String("postgres"),
		EngineVersion:                    pulumi.String(a.EngineVersion),
		AllowMajorVersionUpgrade:         pulumi.Bool(false),
		AutoMinorVersionUpgrade:          pulumi.Bool(true),
		InstanceClass:                    pulumi.String(a.InstanceClass),
		AllocatedStorage:                 pulumi.Int(a.AllocatedStorageGiB),
		MaxAllocatedStorage:              pulumi.Int(a.MaxAllocatedStorageGiB),
		StorageType:                      pulumi.String("gp3"),
		StorageEncrypted:                 pulumi.Bool(true),
		MultiAz:                          pulumi.Bool(a.MultiAZ),
		DbName:                           pulumi.String(a.DBName),
		Username:                         pulumi.String(a.Username),
		Password:                         password.Result,
		Port:                             pulumi.Int(a.Port),
		DbSubnetGroupName:                subnets.Name,
		VpcSecurityGroupIds:              pulumi.StringArray{a.SecurityGroupID},
		ParameterGroupName:               pg.Name,
		PubliclyAccessible:               pulumi.Bool(false),
		IamDatabaseAuthenticationEnabled: pulumi.Bool(true),
		EnabledCloudwatchLogsExports:     logExports,
		BackupRetentionPeriod:            pulumi.Int(a.BackupRetentionDays),
		CopyTagsToSnapshot:               pulumi.Bool(true),
		DeletionProtection:               pulumi.Bool(a.DeletionProtection),
		SkipFinalSnapshot:                pulumi.Bool(a.SkipFinalSnapshot),
		PerformanceInsightsEnabled:       pulumi.Bool(a.PerformanceInsights),
		CaCertIdentifier:                 pulumi.String(a.CACertIdentifier),
		ApplyImmediately:                 pulumi.Bool(a.ApplyImmediately),
		MonitoringInterval:               pulumi.Int(a.MonitoringIntervalSeconds),
	}
	if !a.SkipFinalSnapshot {
		// A suffix born with the stack: a fixed name would collide with the
		// snapshot a previous incarnation of the stack left behind
		// (DBSnapshotAlreadyExists on the second destroy).
		suffix, err := random.NewRandomId(ctx, name+"-db-final-snapshot", &random.RandomIdArgs{ByteLength: pulumi.Int(4)}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating final snapshot suffix: %w", err)
		}
		pa.FinalSnapshotIdentifier = pulumi.Sprintf("%s-%s", naming.Physical(name, "db-final", 200), suffix.Hex)
	}
	if a.PerformanceInsights {
		pa.PerformanceInsightsRetentionPeriod = pulumi.Int(a.PerformanceInsightsRetentionDays)
	}
	if monitoringRole != nil {
		pa.MonitoringRoleArn = monitoringRole
	}
	if a.BackupWindow != "" {
		pa.BackupWindow = pulumi.String(a.BackupWindow)
	}
	if a.MaintenanceWindow != "" {
		pa.MaintenanceWindow = pulumi.String(a.MaintenanceWindow)
	}
	if !a.MultiAZ && len(a.AvailabilityZones) > 0 {
		// RDS rejects an explicit AZ for Multi-AZ instances.
		pa.AvailabilityZone = pulumi.String(a.AvailabilityZones[0])
	}
	primary, err := rds.NewInstance(ctx, name+"-db", pa, parent, pulumi.DependsOn(instanceDeps))
	if err != nil {
		return nil, fmt.Errorf("creating primary db instance: %w", err)
	}

	var replicaHosts, replicaIDs pulumi.StringArray
	for i := 0; i < a.Replicas; i++ {
		ra := &rds.InstanceArgs{
			Identifier: pulumi.String(naming.Physical(name, fmt.Sprintf("db-replica-%d", i+1), naming.MaxRDSIdentifier)),
			// Same region and no dbSubnetGroupName: the identifier is the
			// source, the replica inherits the subnet group. No username,
			// password or dbName: a replica has none of its own (docs/decisions/replica-passwords.md).
			ReplicateSourceDb:   primary.Identifier,
			InstanceClass:       pulumi.String(a.ReplicaInstanceClass),
			MaxAllocatedStorage: pulumi.Int(a.MaxAllocatedStorageGiB),
			StorageType:         pulumi.String("gp3"),
			StorageEncrypted:    pulumi.Bool(true),
			MultiAz:             pulumi.Bool(false),
			// Without it the replica gets the VPC's default security group.
			VpcSecurityGroupIds:              pulumi.StringArray{a.SecurityGroupID},
			ParameterGroupName:               pg.Name,
			PubliclyAccessible:               pulumi.Bool(false),
			IamDatabaseAuthenticationEnabled: pulumi.Bool(true),
			EnabledCloudwatchLogsExports:     logExports,
			AutoMinorVersionUpgrade:          pulumi.Bool(true),
			CopyTagsToSnapshot:               pulumi.Bool(true),
			DeletionProtection:               pulumi.Bool(a.DeletionProtection),
			// RDS refuses a final snapshot identifier when deleting a replica.
			SkipFinalSnapshot:          pulumi.Bool(true),
			PerformanceInsightsEnabled: pulumi.Bool(a.PerformanceInsights),
			CaCertIdentifier:           pulumi.String(a.CACertIdentifier),
			ApplyImmediately:           pulumi.Bool(a.ApplyImmediately),
			MonitoringInterval:         pulumi.Int(a.MonitoringIntervalSeconds),
		}
		if a.PerformanceInsights {
			ra.PerformanceInsightsRetentionPeriod = pulumi.Int(a.PerformanceInsightsRetentionDays)
		}
		if monitoringRole != nil {
			ra.MonitoringRoleArn = monitoringRole
		}
		if n := len(a.AvailabilityZones); n > 0 {
			ra.AvailabilityZone = pulumi.String(a.AvailabilityZones[(i+1)%n])
		}
		replica, err := rds.NewInstance(ctx, fmt.Sprintf("%s-db-replica-%d", name, i+1), ra, parent, pulumi.DependsOn(instanceDeps))
		if err != nil {
			return nil, fmt.Errorf("creating read replica %d: %w", i+1, err)
		}
		replicaHosts = append(replicaHosts, replica.Address)
		replicaIDs = append(replicaIDs, replica.Identifier)
	}
	replicaHostsOut := replicaHosts.ToStringArrayOutput()

	// A name prefix, not a fixed name: a destroyed secret lingers for its
	// recovery window and would block re-creating the same name.
	secretJSON := pulumi.All(primary.Address, primary.Port, password.Result, replicaHostsOut).ApplyT(
		func(v []any) (string, error) {
			return credentialsJSON(v[0].(string), v[1].(int), a.Username, v[2].(string), a.DBName, v[3].([]string))
		}).(pulumi.StringOutput)
	secretARN, err := secrets.Store(ctx, name+"-db-secret", naming.Physical(name, "db-credentials", 200),
		"surge PostgreSQL master credentials and endpoints (surge migrate only)", secretJSON, *a.SecretRecoveryWindowDays, parent)
	if err != nil {
		return nil, err
	}

	// The app role's password: generated like the master's, applied to the
	// role by `surge migrate` (CREATE/ALTER ROLE), which the role's
	// replicas receive through replication. A password rather than IAM
	// authentication: docs/decisions/database-credentials.md.
	appPassword, err := random.NewRandomPassword(ctx, name+"-db-app", &random.RandomPasswordArgs{
		Length:          pulumi.Int(32),
		Special:         pulumi.Bool(true),
		OverrideSpecial: pulumi.String(PasswordSpecials),
		MinLower:        pulumi.Int(2),
		MinUpper:        pulumi.Int(2),
		MinNumeric:      pulumi.Int(2),
		MinSpecial:      pulumi.Int(1),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating app role password: %w", err)
	}
	appSecretJSON := pulumi.All(primary.Address, primary.Port, appPassword.Result, replicaHostsOut).ApplyT(
		func(v []any) (string, error) {
			return credentialsJSON(v[0].(string), v[1].(int), a.AppUsername, v[2].(string), a.DBName, v[3].([]string))
		}).(pulumi.StringOutput)
	appSecretARN, err := secrets.Store(ctx, name+"-db-app-secret", naming.Physical(name, "db-app-credentials", 200),
		"surge PostgreSQL app role credentials (surge serve; the role is managed by surge migrate)", appSecretJSON, *a.SecretRecoveryWindowDays, parent)
	if err != nil {
		return nil, err
	}

	c.WriterEndpoint = primary.Address
	c.Port = primary.Port
	c.ReplicaEndpoints = replicaHostsOut
	c.SecretARN = secretARN
	c.AppSecretARN = appSecretARN
	c.Identifier = primary.Identifier
	c.ParameterGroupName = pg.Name
	c.ReplicaIdentifiers = replicaIDs.ToStringArrayOutput()
	c.ReplicaIDs = make([]pulumi.StringInput, len(replicaIDs))
	copy(c.ReplicaIDs, replicaIDs)
	c.ReadEndpoint = primary.Address
	if len(replicaHosts) > 0 {
		c.ReadEndpoint = replicaHosts[0].ToStringOutput()
	}
	c.MasterPassword = pulumi.ToSecret(password.Result).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"writerEndpoint":     c.WriterEndpoint,
		"port":               c.Port,
		"replicaEndpoints":   c.ReplicaEndpoints,
		"secretArn":          c.SecretARN,
		"appSecretArn":       c.AppSecretARN,
		"identifier":         c.Identifier,
		"replicaIdentifiers": c.ReplicaIdentifiers,
		"masterPassword":     c.MasterPassword,
	}); err != nil {
		return nil, fmt.Errorf("registering database outputs: %w", err)
	}
	return c, nil
}

// credentialsJSON is a secret the app reads: the writer, the first replica
// (or the writer when there is none) and one role's credentials.
func credentialsJSON(host string, port int, user, password, dbname string, replicas []string) (string, error) {
	readHost := host
	if len(replicas) > 0 {
		readHost = replicas[0]
	}
	b, err := json.Marshal(map[string]any{
		"engine":   "postgres",
		"host":     host,
		"port":     port,
		"username": user,
		"password": password,
		"dbname":   dbname,
		"readHost": readHost,
	})
	if err != nil {
		return "", fmt.Errorf("encoding db secret: %w", err)
	}
	return string(b), nil
}
