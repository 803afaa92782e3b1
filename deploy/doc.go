// Package deploy holds no code: its tests check the deployment artefacts
// beside it (the container image, the Helm chart, the Grafana dashboard and
// the Prometheus alerts) against signway itself. They live in their own
// package so that only `go test ./deploy/...` compiles the Helm, Kubernetes,
// Prometheus and go-containerregistry libraries they need.
package deploy
