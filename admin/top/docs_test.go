package top

import (
	"os"
	"strings"
	"testing"
)

// TestDocsKeyTable: docs/top.md's key table names every key top answers
// to.
func TestDocsKeyTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/top.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## Keys")
	table, _, _ = strings.Cut(table, "\n## ")
	if !ok {
		t.Fatal("docs/top.md has no Keys section")
	}
	for _, group := range newKeyMap().FullHelp() {
		for _, b := range group {
			keys := strings.Split(b.Help().Key, "/")
			if b.Help().Key == "/" {
				keys = []string{"/"}
			}
			for _, k := range keys {
				if !strings.Contains(table, "`"+k+"`") {
					t.Errorf("docs/top.md's key table lacks `%s` (%s)", k, b.Help().Desc)
				}
			}
		}
	}
}
