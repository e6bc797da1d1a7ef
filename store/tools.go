//go:build tools

// Package store pins SeaweedFS, the S3-compatible object store fleet's tests and CI use as a
// shared Pulumi backend (`npm run store -- start`).
package store

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
