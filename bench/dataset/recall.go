package dataset

// QueryRecall is |got[:k] ∩ gt[:k]| / min(k, len(gt)) for one query.
// Duplicate ids in got count once. It returns 1 when the denominator is 0
// (nothing to find) and 0 when k <= 0.
func QueryRecall(got, gt []int32, k int) float64 {
	if k <= 0 {
		return 0
	}
	want := gt[:min(k, len(gt))]
	if len(want) == 0 {
		return 1
	}
	got = got[:min(k, len(got))]
	if len(got) > 64 {
		return mapRecall(got, want)
	}
	hits := 0
	// k is usually small (10-100): a quadratic scan beats building a map.
	for i, id := range got {
		dup := false
		for _, prev := range got[:i] {
			if prev == id {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		for _, w := range want {
			if w == id {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(want))
}

// Recall is the mean QueryRecall over the queries of gt. A query missing from
// got (len(got) < len(gt)) scores 0. It returns 0 when gt is empty.
func Recall(got, gt [][]int32, k int) float64 {
	if len(gt) == 0 {
		return 0
	}
	var sum float64
	for i, want := range gt {
		if i < len(got) {
			sum += QueryRecall(got[i], want, k)
		}
	}
	return sum / float64(len(gt))
}

func mapRecall(got, want []int32) float64 {
	wanted := make(map[int32]bool, len(want))
	for _, w := range want {
		wanted[w] = true
	}
	hits := 0
	for _, id := range got {
		if wanted[id] {
			hits++
			wanted[id] = false // a duplicate in got counts once
		}
	}
	return float64(hits) / float64(len(want))
}
