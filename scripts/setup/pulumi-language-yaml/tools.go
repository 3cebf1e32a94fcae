//go:build tools

// Package tools pins the YAML language host as this module's only dependency, so go.mod and go.sum
// fix every module it is built from. scripts/setup/pulumi-cli.sh builds
// github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml from here.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
