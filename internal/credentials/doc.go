// Package credentials owns how signway obtains the AWS credentials it signs
// with, caches them and refreshes them before they expire.
//
// Obtaining credentials is delegated to aws-sdk-go-v2: DefaultChain is the
// SDK's default chain (environment, shared files and profiles, SSO,
// credential_process, web identity, container and IMDSv2) and AssumeRole is
// the SDK's stscreds provider. The Providers in this package do not cache;
// Cache does, so that one place decides when credentials are refreshed and
// every request is signed with credentials that have time left to run.
//
// Secrets and session tokens are never logged or put in error messages; the
// access key ID is the most that appears.
package credentials
