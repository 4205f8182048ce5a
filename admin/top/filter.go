package top

import (
	"strconv"
	"strings"
)

// The list panes' rows after their filter (/): a row stays when any of
// its fields contains the filter, case-insensitively.

func matches(filter string, fields ...string) bool {
	if filter == "" {
		return true
	}
	f := strings.ToLower(filter)
	for _, s := range fields {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return false
}

func (m Model) tenantRows() []TenantRow {
	var out []TenantRow
	for _, r := range m.snap.Tenants.Rows {
		if matches(m.filter[paneTenants], r.Name, r.ID) {
			out = append(out, r)
		}
	}
	return out
}

func (m Model) collectionRows() []CollectionStorage {
	var out []CollectionStorage
	for _, c := range m.snap.Storage.Collections {
		if matches(m.filter[paneStorage], c.Tenant, c.Name, c.Policy, c.LastError) {
			out = append(out, c)
		}
	}
	return out
}

func (m Model) dlqRows() []DLQRow {
	var out []DLQRow
	for _, e := range m.snap.DLQ.Entries {
		if matches(m.filter[paneDLQ], strconv.FormatInt(e.ID, 10), e.Status, e.Tenant, e.Collection, e.Operation, e.Kind, e.Object, e.LastError) {
			out = append(out, e)
		}
	}
	return out
}

// rowCount is how many rows the pane's cursor moves over.
func (m Model) rowCount(p pane) int {
	switch p {
	case paneTenants:
		return len(m.tenantRows())
	case paneStorage:
		return len(m.collectionRows())
	case paneDLQ:
		return len(m.dlqRows())
	}
	return 0
}
