// Package cmd holds the akidb command tree: cobra commands and viper
// configuration only. Each command turns flags (layered as flags > AKIDB_*
// environment > config file > defaults) into a typed config and makes one
// call into a product package; no product logic lives here.
//
// All OS access (stdout, stderr, environment, signals, exit) goes through
// State, so the whole CLI can run in-process in tests.
package cmd
