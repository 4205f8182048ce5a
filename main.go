// Command akidb is the AkiDB vector database: server, administration and
// benchmarks in one binary.
package main

import "github.com/akidb/akidb/cmd"

func main() { cmd.Execute() }
