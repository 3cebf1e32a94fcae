//go:build tools

// Package tools pins the Node.js language host as this module's only dependency, so go.mod and
// go.sum fix every module it is built from. v3.68.0 is the last sdk/v3 that still holds the host
// (later versions moved it to a module the Go proxy does not serve). scripts/setup/pulumi-cli.sh
// builds github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs from here.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
