//go:build tools

// Package tools pins the Pulumi CLI as this module's only dependency, so go.mod and go.sum fix
// every module it is built from (the proxy serves exact versions only, no listings).
// scripts/setup/pulumi-cli.sh builds github.com/pulumi/pulumi/pkg/v3/cmd/pulumi from here.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
