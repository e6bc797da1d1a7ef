//go:build tools

// Package languagenodejs pins Pulumi's Node.js language host that fleet builds. Its own module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is refused by the Go
// module proxy here, so this is the newest build of it that the proxy serves: the package
// inside github.com/pulumi/pulumi/sdk/v3, the last release (v3.68.0) before it moved into a
// module of its own.
package languagenodejs

import (
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
