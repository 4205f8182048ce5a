-- 0007: a collection's quantization (engine/quant, docs/quantization.md):
-- whether it keeps int8 codes of its vectors, where the float32 originals
-- live, and how the codes' value ranges are laid out. These are the
-- settings; what the collection has reached is in its snapshots, and the
-- engine re-encodes in the background until the two agree. No row means
-- none/memory/auto, as for every collection made before this migration.
-- The row goes with its collection (ON DELETE CASCADE).
CREATE TABLE collection_quantization (
    collection_id TEXT    NOT NULL PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
    type          TEXT    NOT NULL CHECK (type IN ('none', 'int8')),
    originals     TEXT    NOT NULL CHECK (originals IN ('memory', 'disk')),
    ranges        TEXT    NOT NULL CHECK (ranges IN ('auto', 'collection', 'dimension')),
    updated_at    INTEGER NOT NULL,
    -- Only quantized collections can keep their originals on disk: the
    -- graph of an unquantized one measures the float32 vectors themselves.
    CHECK (type = 'int8' OR originals = 'memory')
) STRICT;
