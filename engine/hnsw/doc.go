// Package hnsw owns AkiDB's approximate nearest-neighbour index: a
// Hierarchical Navigable Small World graph (Malkov & Yashunin) built and
// searched as hnswlib does it, over vectors it stores itself. It does no file
// I/O; Encode and Decode move its state through an io.Writer / io.Reader for
// the snapshot package, which adds checksums.
//
// # Algorithm
//
// A node's level is floor(-ln(U) * mL), mL = 1/ln(M), U uniform in (0,1]
// from a counter-based generator (splitmix64 of Seed and the draw number), so
// the same seed and the same single-threaded insert order build the same
// graph. Insert descends greedily from the entry point (the node of highest
// level) to the node's level, then on each lower layer runs a beam search of
// width EfConstruction, keeps M neighbours with the heuristic of Algorithm 4
// (keepPrunedConnections = false), links both ways, and, when a neighbour's
// list is full (M on layers >= 1, 2*M on layer 0), re-runs the heuristic over
// that list plus the new node to shrink it. Search descends greedily, then
// beam-searches layer 0 with width ef.
//
// # Memory layout
//
// Nodes have dense uint32 ids in insertion order. Everything per node lives
// in chunks of 256 nodes: the vectors (one []float32), the layer-0 rows
// ([count, id_1 .. id_2M] in one []uint32), a meta word (ready, deleted,
// level), a mutex, and for the ~1/M nodes above layer 0 one []uint32 of
// level rows [count, id_1 .. id_M]. Chunks never move; growth copies the
// small chunk table and swaps it atomically, so readers never race with it.
// Searches reuse pooled scratch (epoch-stamped uint16 visited array,
// hand-written heaps) and allocate only their result.
//
// Vector distances dominate the cost, and for vectors of hundreds of
// dimensions they are bound by memory latency rather than arithmetic. The
// search therefore gathers a node's unvisited neighbours first, prefetching
// their first cache line, and prefetches each next vector whole while it
// measures the current one (int8 codes, measured in a fraction of the
// time, three nodes ahead); while it expands a node it fetches the
// neighbour list of the candidate next in line (prefetch_*.s: one
// PREFETCHT0 / PRFM loop, the only assembly here; a no-op under the noasm
// tag or other architectures).
//
// The layer-0 lists and the code blocks, the arrays that grow with every
// node, come from Config.Alloc when it is set (alloc.go; the engine gives
// a collection with its originals on disk file-backed memory from
// engine/mapped). The graph gives such memory back only when no reader
// can hold it: a chunk dropped by Vacuum at once (it holds the graph
// exclusively), a code block replaced by a re-encoding at the next
// exclusive hold with no Frozen state pending, everything at Release.
//
// # Concurrency
//
// Add, Search, ExactSearch(IDs), Delete, Encode and the accessors may run
// concurrently. Writers of a neighbour list hold that node's mutex; readers
// take no lock but read every list word atomically, so they may see a list
// mid-rewrite (a mix of old and new ids, every one valid) exactly as hnswlib's
// searches do. A node's vector and level are published (atomic meta store)
// before any list names it, and an insert writes its lists bottom up, so a
// node named on a layer has its lists on the layers below (a walk that
// reaches it there can go on down from it). Only an insert that raises the top level takes a
// graph-wide lock (held for that whole insert, as in hnswlib). Encode waits for
// in-flight Adds and Deletes and holds new ones off; Vacuum excludes
// everything. SearchUntil and ExactSearchUntil check a stop function every
// StopEvery distance computations (a deadline), and give way to a Vacuum
// waiting for the graph (ErrInterrupted) rather than make it, and whoever
// waits on it, wait for a long search. Lock order: structMu, then mutateMu, then entryMu, then node
// mutexes one at a time.
//
// # Deletes, filters and Vacuum
//
// Delete sets a tombstone. Tombstoned nodes are never returned but still
// route searches, and new nodes do not link to them. Search's allow filter
// restricts results the same way (see Search for the stopping rule).
// Vacuum repairs the lists that name deleted nodes, re-links any live node
// left unreachable, picks a new entry point if needed and compacts ids.
//
// # Quantization
//
// A graph can also hold int8 codes of its vectors (quant.go, measure.go),
// in a Space the engine trains (engine/quant), and traverse on them: the
// int8 kernels read a quarter of the bytes. Codes live in per-chunk blocks
// tagged with the index (0 or 1) of their space; a search prepares its
// query once per space in use and measures each node with its block's
// space, so a re-encoding into a new space can proceed a chunk at a time
// while searches go on (BeginEncoding, EncodeChunks, FinishEncoding).
// Reserve writes a node's vector, code and publication under its chunk's
// codeMu, which is what a chunk's re-encoding holds, so no node is missed.
// Such a search takes the best Rerank candidates (default ef) of its beam,
// measures them again with the float32 vectors and returns the best k with
// exact distances. Inserts and list repairs measure the float32 vectors
// while the arena holds them (linkQuant: the graph is the one float32
// builds), and codes when the originals are on disk, an inserted node's
// side prepared from its vector read from the store (a repaired node's
// from its code). An inserted vector its space clamps walks the graph and
// chooses its links on the store's float32 vectors instead (linkvecs.go).
//
// The float32 vectors stay in the arena ("memory" originals) or live only
// in an Originals store the engine provides (a vectors file: "disk"),
// which the graph reads for re-ranking, exact scans and Vector and writes
// when a node is reserved (SetOriginals, WriteOriginals, DropFloats,
// LoadFloats). Steps that remove what searches read (DropFloats, DropCodes,
// and BeginEncoding, which adds a space searches must prepare for) hold the
// graph exclusively, and stoppable searches give way as for Vacuum. Vacuum
// refuses to run while an encoding is under way; it moves codes with their
// nodes, and the caller moves the Originals' rows by oldToNew.
//
// # Encoding (version 2; version 1 is still read)
//
// Little-endian throughout. Sections follow one another with no padding:
//
//	offset size  field
//	0      4     magic "AKHG"
//	4      2     version = 2 (1: as 2 with flags 0)
//	6      2     header length = 64
//	8      4     dim (1..16384)
//	12     1     metric (1 l2, 2 dot, 3 cosine)
//	13     1     flags: bit 0 no vectors section (they are in an Originals
//	             store), bit 1 codes section present; bit 0 needs bit 1
//	14     2     M (2..100)
//	16     4     efConstruction (1..5000)
//	20     4     reserved, 0
//	24     8     seed (int64)
//	32     8     level generator draws so far
//	40     8     initial capacity (hint, <= 2^31-1)
//	48     4     n, number of nodes (<= 2^31-1)
//	52     4     number of deleted nodes (<= n)
//	56     4     entry point id (< n; 0xFFFFFFFF iff n == 0)
//	60     4     top level (<= 63; 0 iff n == 0)
//	64     n     level of each node, one byte, by id
//	..     ceil(n/8)  tombstone bitmap: bit (id%8) of byte id/8; padding bits 0
//	..     4*n*dim    vectors, float32 by id; every component finite
//	             (absent with flag bit 0)
//	..     codes, with flag bit 1: for each chunk of 256 ids, u8 space (0 or 1;
//	             255 = no codes, then u8 0 and nothing else), u8 1 if the
//	             codes carry correction terms else 0, cnt*dim int8 codes and
//	             with corrections cnt finite float32 (cnt = the chunk's ids)
//	..     4*n*(2M+1) layer-0 rows by id: count (<= 2M), count ids, zero padding
//	..     4*sum(level)*(M+1) upper rows: for each node by id with level L > 0,
//	             rows for layers 1..L: count (<= M), count ids, zero padding
//	..     4     trailer "GHKA"
//
// Invariants checked by Decode: every neighbour id is < n, not the node
// itself, not repeated within a row, and has a level >= the row's layer; the
// entry point has the top level and no node has a higher one; the tombstone
// popcount equals the deleted count. Decode reads exactly these bytes and
// allocates in step with what it has read (at most one 256-node chunk ahead).
// That the code blocks' spaces exist and agree with the vectors' absence
// is for RestoreQuantization to check, which a decoded quantized graph
// needs before use.
package hnsw
