package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"testing"
)

func labelFile(n uint32, labels []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, idxLabelMagic)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, labels...)
}

func TestDecodeIDXLabels(t *testing.T) {
	raw := labelFile(5, []byte{3, 1, 4, 1, 5})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	for _, in := range [][]byte{raw, gz.Bytes()} {
		got, err := DecodeIDXLabels(bytes.NewReader(in), 0)
		if err != nil || !bytes.Equal(got, []byte{3, 1, 4, 1, 5}) {
			t.Fatalf("got %v, %v", got, err)
		}
		got, err = DecodeIDXLabels(bytes.NewReader(in), 2)
		if err != nil || !bytes.Equal(got, []byte{3, 1}) {
			t.Fatalf("first 2: %v, %v", got, err)
		}
	}
	var fe *FormatError
	for name, in := range map[string][]byte{
		"truncated":  labelFile(6, []byte{1, 2}),
		"trailing":   labelFile(1, []byte{1, 2}),
		"bad magic":  append(binary.BigEndian.AppendUint32(nil, idxImageMagic), 0, 0, 0, 1, 7),
		"no header":  {0, 0},
		"huge count": labelFile(1<<31, []byte{1}),
	} {
		if _, err := DecodeIDXLabels(bytes.NewReader(in), 0); !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a *FormatError", name, err)
		}
	}
	if got, err := MNISTLabelsFor("/d/train-images-idx3-ubyte.gz"); err != nil || got != "/d/train-labels-idx1-ubyte.gz" {
		t.Errorf("labels path %q %v", got, err)
	}
	if _, err := MNISTLabelsFor("/d/base.fvecs"); err == nil {
		t.Error("labels for a non-MNIST file")
	}
}
