package compute

import (
	"encoding/json"
	"errors"
	"fmt"
)

const assumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

type policyInputs struct {
	// ReleasesARN covers every release object ("<bucket ARN>/releases/*"),
	// not only the pinned one: while an instance refresh runs, and after
	// it for a rollback, launches from earlier launch template versions
	// (scale-out, replacement, warm-pool refill) fetch earlier releases.
	ReleasesARN string
	SecretARNs  []string // the database (master and app role), cache and admin-token secrets
	LogGroupARN string   // the app log group, without ":*"
	KMSKeyARN   string   // artifact bucket CMK; empty for SSE-S3
	ASGARN      string   // the fleet's own group, for CompleteLifecycleAction
	// MaterialsBucketARN and MaterialsPrefix: course material uploads
	// (materials.go); empty: none.
	MaterialsBucketARN string
	MaterialsPrefix    string
}

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// instancePolicy is the least-privilege inline policy of the app role, built
// with encoding/json (no getPolicyDocument invoke, no preview round trip).
func instancePolicy(in policyInputs) (string, error) {
	var errs []error
	if in.ReleasesARN == "" {
		errs = append(errs, errors.New("releases ARN is empty"))
	}
	for _, s := range in.SecretARNs {
		if s == "" {
			errs = append(errs, errors.New("a secret ARN is empty"))
		}
	}
	if (in.MaterialsBucketARN == "") != (in.MaterialsPrefix == "") {
		errs = append(errs, errors.New("materials bucket ARN and prefix come together"))
	}
	if in.LogGroupARN == "" {
		errs = append(errs, errors.New("log group ARN is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("building instance policy: %w", err)
	}
	stmts := []statement{
		{Sid: "ReadReleases", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: in.ReleasesARN},
		{Sid: "ReadRuntimeSecrets", Effect: "Allow", Action: []string{"secretsmanager:GetSecretValue"}, Resource: in.SecretARNs},
		{Sid: "WriteAppLogs", Effect: "Allow",
			Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
			Resource: []string{in.LogGroupARN, in.LogGroupARN + ":*"}},
		// PutMetricData has no resource-level permissions; the namespace
		// condition is what confines it.
		{Sid: "PutSurgeMetrics", Effect: "Allow", Action: []string{"cloudwatch:PutMetricData"}, Resource: "*",
			Condition: map[string]any{"StringEquals": map[string]string{"cloudwatch:namespace": MetricNamespace}}},
		// The CloudWatch agent resolves the AutoScalingGroupName dimension
		// with DescribeTags, which has no resource-level permissions.
		{Sid: "AgentDescribeTags", Effect: "Allow", Action: []string{"ec2:DescribeTags"}, Resource: "*"},
		{Sid: "CompleteOwnLaunch", Effect: "Allow", Action: []string{"autoscaling:CompleteLifecycleAction"}, Resource: in.ASGARN},
	}
	stmts = append(stmts, materialsStatements(in.MaterialsBucketARN, in.MaterialsPrefix)...)
	if in.KMSKeyARN != "" {
		stmts = append(stmts, statement{Sid: "DecryptArtifact", Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: in.KMSKeyARN,
			Condition: map[string]any{"StringLike": map[string]string{"kms:ViaService": "s3.*.amazonaws.com"}}})
	}
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	if err != nil {
		return "", fmt.Errorf("encoding instance policy: %w", err)
	}
	return string(b), nil
}
