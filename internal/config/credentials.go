package config

// CredentialSource selects where a route's AWS credentials come from.
type CredentialSource string

// Credential sources. The empty source is SourceDefault, or SourceStatic
// when keys are given, or SourceCallerWebIdentity when web_identity is.
const (
	// SourceDefault is the AWS SDK's default chain: environment, shared
	// files (profile), SSO, credential_process, web identity token file,
	// container credentials, IMDSv2.
	SourceDefault CredentialSource = "default"
	// SourceEnv is AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
	SourceEnv CredentialSource = "env"
	// SourceProfile is a profile of the shared config and credentials files.
	SourceProfile CredentialSource = "profile"
	// SourceStatic is access_key_id and secret_access_key given here.
	SourceStatic CredentialSource = "static"
	// SourceWebIdentityFile is AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN
	// (EKS IRSA).
	SourceWebIdentityFile CredentialSource = "web_identity_file"
	// SourceContainer is ECS or EKS Pod Identity container credentials.
	SourceContainer CredentialSource = "container"
	// SourceIMDS is the EC2 instance profile through IMDSv2.
	SourceIMDS CredentialSource = "imds"
	// SourceProcess is the credential_process of a profile.
	SourceProcess CredentialSource = "process"
	// SourceSSO is an SSO profile with a cached token (aws sso login).
	SourceSSO CredentialSource = "sso"
	// SourceCallerWebIdentity exchanges each caller's bearer token for
	// credentials of web_identity's role: one identity per caller.
	SourceCallerWebIdentity CredentialSource = "caller_web_identity"
	// SourceRolesAnywhere is IAM Roles Anywhere: an X.509 certificate is
	// exchanged for credentials of a role (roles_anywhere).
	SourceRolesAnywhere CredentialSource = "roles_anywhere"
)

// CredentialSources lists the credential sources; all but
// SourceCallerWebIdentity are one identity for every request.
func CredentialSources() []CredentialSource {
	return []CredentialSource{SourceDefault, SourceEnv, SourceProfile, SourceStatic,
		SourceWebIdentityFile, SourceContainer, SourceIMDS, SourceProcess, SourceSSO, SourceRolesAnywhere, SourceCallerWebIdentity}
}

// Credentials are the AWS credentials a route signs with.
type Credentials struct {
	// Source is default, env, profile, static, web_identity_file,
	// container, imds, process, sso, roles_anywhere or caller_web_identity.
	Source CredentialSource `yaml:"source"`
	// Profile of the shared config files, for the default, profile, sso
	// and process sources; default AWS_PROFILE, else "default".
	Profile string `yaml:"profile"`
	// AccessKeyID of static credentials: "${ENV_VAR}" or {file: PATH}.
	AccessKeyID Secret `yaml:"access_key_id"`
	// SecretAccessKey of static credentials: "${ENV_VAR}" or {file: PATH}.
	SecretAccessKey Secret `yaml:"secret_access_key"`
	// SessionToken of temporary static credentials: "${ENV_VAR}" or
	// {file: PATH}.
	SessionToken Secret `yaml:"session_token"`
	// AssumeRole assumes a role with the credentials of the source.
	AssumeRole *AssumeRole `yaml:"assume_role"`
	// WebIdentity is the role each caller's token is exchanged for, with
	// source caller_web_identity.
	WebIdentity *WebIdentity `yaml:"web_identity"`
	// RolesAnywhere is the certificate and role of source roles_anywhere.
	RolesAnywhere *RolesAnywhere `yaml:"roles_anywhere"`
}

// IsZero reports whether nothing is set, so the defaults' credentials apply.
func (c Credentials) IsZero() bool {
	return c.Source == "" && c.Profile == "" && c.AccessKeyID.IsZero() && c.SecretAccessKey.IsZero() &&
		c.SessionToken.IsZero() && c.AssumeRole == nil && c.WebIdentity == nil && c.RolesAnywhere == nil
}

// RolesAnywhere is IAM Roles Anywhere's CreateSession: a workload outside
// AWS proves itself with an X.509 certificate issued by the trust anchor's
// CA and gets temporary credentials of the role. The files are read again
// at each refresh, so a rotated certificate needs no restart.
type RolesAnywhere struct {
	// CertificateFile is the PEM end-entity certificate. Required.
	CertificateFile string `yaml:"certificate_file"`
	// PrivateKeyFile is its PEM private key, EC or RSA, unencrypted. Required.
	PrivateKeyFile string `yaml:"private_key_file"`
	// IntermediatesFile is a PEM bundle of intermediate CAs, when the
	// certificate is not issued by the trust anchor's CA itself.
	IntermediatesFile string `yaml:"intermediates_file"`
	// TrustAnchorARN is arn:aws:rolesanywhere:REGION:ACCOUNT:trust-anchor/ID. Required.
	TrustAnchorARN string `yaml:"trust_anchor_arn"`
	// ProfileARN is arn:aws:rolesanywhere:REGION:ACCOUNT:profile/ID, in the
	// trust anchor's region. Required.
	ProfileARN string `yaml:"profile_arn"`
	// RoleARN is one of the profile's roles. Required.
	RoleARN string `yaml:"role_arn"`
	// Duration of the credentials, 15m to 12h; default the profile's (1h).
	Duration Duration `yaml:"duration"`
	// Endpoint overrides https://rolesanywhere.REGION.amazonaws.com.
	Endpoint string `yaml:"endpoint"`
}

// AssumeRole is an STS AssumeRole call (KrakenD's assume_role_arn, sts_region).
type AssumeRole struct {
	// RoleARN is arn:aws:iam::ACCOUNT:role/NAME. Required.
	RoleARN string `yaml:"role_arn"`
	// SessionName appears in CloudTrail; 2-64 of [A-Za-z0-9_+=,.@-].
	SessionName string `yaml:"session_name"`
	// ExternalID, when the role's trust policy asks for one.
	ExternalID string `yaml:"external_id"`
	// Duration of the session, 15m to 12h (the role's maximum applies).
	Duration Duration `yaml:"duration"`
	// Tags are session tags (at most 50).
	Tags map[string]string `yaml:"tags"`
	// SourceIdentity is recorded in CloudTrail and kept across role chains.
	SourceIdentity string `yaml:"source_identity"`
	// STSRegion selects the regional STS endpoint; default the route's region.
	STSRegion string `yaml:"sts_region"`
	// STSEndpoint overrides the STS URL (a VPC endpoint, LocalStack, moto).
	STSEndpoint string `yaml:"sts_endpoint"`
	// Chain lists further roles, each assumed with the credentials of the
	// one before (role chaining); the last one signs.
	Chain []AssumeRole `yaml:"chain"`
}

// WebIdentity is the per-caller role of the Kong aws-request-signing pattern:
// the caller's bearer token goes to STS AssumeRoleWithWebIdentity.
type WebIdentity struct {
	// RoleARN of the role to assume; or give account_id and role_name.
	RoleARN string `yaml:"role_arn"`
	// AccountID (12 digits) with role_name, instead of role_arn.
	AccountID string `yaml:"account_id"`
	// RoleName with account_id, instead of role_arn.
	RoleName string `yaml:"role_name"`
	// SessionName appears in CloudTrail; default chosen by signway.
	SessionName string `yaml:"session_name"`
	// Duration of the session, 15m to 12h.
	Duration Duration `yaml:"duration"`
	// TokenHeader carries the caller's token ("Bearer " is stripped);
	// default Authorization. It is never sent upstream.
	TokenHeader string `yaml:"token_header"`
	// ReturnSTSError sends STS's own error to the caller instead of a
	// generic 401/403.
	ReturnSTSError bool `yaml:"return_sts_error"`
	// CacheSize bounds the per-caller credential cache; default 10000.
	CacheSize int `yaml:"cache_size"`
	// STSRegion selects the regional STS endpoint; default the route's region.
	STSRegion string `yaml:"sts_region"`
	// STSEndpoint overrides the STS URL.
	STSEndpoint string `yaml:"sts_endpoint"`
}

// ARN returns RoleARN, or the ARN built from AccountID and RoleName in the
// aws partition.
func (w *WebIdentity) ARN() string {
	if w.RoleARN != "" || w.AccountID == "" || w.RoleName == "" {
		return w.RoleARN
	}
	return "arn:aws:iam::" + w.AccountID + ":role/" + w.RoleName
}
