package config

import _ "embed" // the example configuration file

//go:embed example.yaml
var exampleYAML []byte

// Example returns the commented example configuration file (gateway/config/example.yaml),
// which `xborder gateway --example-config` prints.
func Example() []byte { return append([]byte(nil), exampleYAML...) }
