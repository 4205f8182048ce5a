package api

import (
	"github.com/akidb/akidb/engine"
)

// QuantizationSettings are a collection's quantization settings
// (docs/quantization.md): type none or int8, where the float32 originals
// live (memory or disk) and the layout of the codes' ranges (auto,
// collection or dimension). In a request an empty field takes its
// default at create, and keeps its value in an update.
type QuantizationSettings struct {
	Type      string `json:"type,omitempty"`
	Originals string `json:"originals,omitempty"`
	Ranges    string `json:"ranges,omitempty"`
}

// QuantizationStatus is the state of a collection's quantization: the
// background work that applies its settings (state off, waiting for
// vectors to train on, working with a step and its progress, ready, or
// failed with an error, retried at the next checkpoint), whether searches
// traverse the codes and the originals are on disk, and what training
// found.
type QuantizationStatus = engine.QuantizationStatus

func quantizationSettingsView(q engine.Quantization) QuantizationSettings {
	return QuantizationSettings{Type: q.Type, Originals: q.Originals, Ranges: q.Ranges}
}

// quantizationAtCreate is the engine's settings for a create request
// (nil: none).
func quantizationAtCreate(q *QuantizationSettings) engine.Quantization {
	if q == nil {
		return engine.Quantization{}
	}
	return engine.Quantization{Type: q.Type, Originals: q.Originals, Ranges: q.Ranges}
}

// mergeQuantization applies an update to the current settings: fields
// given replace, the others stay, except that turning quantization off
// brings the originals back to memory unless the update says otherwise
// (an unquantized collection searches its float32 vectors in memory).
func mergeQuantization(cur engine.Quantization, upd QuantizationSettings) engine.Quantization {
	next := cur
	if upd.Type != "" {
		next.Type = upd.Type
		if upd.Type == engine.QuantNone && upd.Originals == "" {
			next.Originals = engine.OriginalsMemory
		}
	}
	if upd.Originals != "" {
		next.Originals = upd.Originals
	}
	if upd.Ranges != "" {
		next.Ranges = upd.Ranges
	}
	return next
}
