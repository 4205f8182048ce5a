// Package annengine runs the ANN benchmark (bench/ann) against AkiDB's own
// engine: it loads the dataset files, adapts an engine.Collection to
// ann.Index and writes the report. `akidb bench ann` is a thin wrapper
// around Run.
package annengine
