//go:build tools

// Package engine pins the Pulumi CLI that fleet builds from its Go module.
package engine

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
