// Package credentials owns how signway obtains the AWS credentials it signs
// with, caches them and refreshes them before they expire.
//
// Obtaining credentials is delegated to aws-sdk-go-v2: DefaultChain is the
// SDK's default chain (environment, shared files and profiles, SSO,
// credential_process, web identity, container and IMDSv2), FromSource picks
// one of those sources explicitly for a route, and AssumeRole is the SDK's
// stscreds provider. The Providers in this package do not cache; Cache does,
// so that one place decides when credentials are refreshed and every request
// is signed with credentials that have time left to run.
//
// CallerWebIdentity is the exception: it exchanges each caller's own token
// with STS and keeps its own per-caller cache, because one Cache per route
// would hand one caller's credentials to the next.
//
// Secrets, session tokens and callers' tokens are never logged or put in
// error messages; the access key ID (or a short prefix of a token's hash) is
// the most that appears.
package credentials
