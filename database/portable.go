package database

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TableExport says which rows of a table belong to one tenant: the owning package
// writes Where (SQL with one ? per argument, every ? the tenant's id) and the order
// that keeps foreign keys satisfied within the table. Export and import move rows as
// they are stored, so that ids, hashes and the audit chain stay exactly as they were.
type TableExport struct {
	Table string
	Where string
	// Order lists the columns that order the rows (a parent before its children).
	Order string
	// Skip names the columns left out (kept by the target: an identity, say).
	Skip []string
	// Params are the query's arguments; nil means the tenant's id once per ?.
	Params []any
	// Transform, when set, changes each row as it is exported; an error ends the export.
	Transform func(Row) error
}

// Args are the query's arguments: Params, or the tenant's id once per ?.
func (t TableExport) Args(tenantID string) []any {
	if t.Params != nil {
		return t.Params
	}
	n := strings.Count(t.Where, "?")
	args := make([]any, n)
	for i := range args {
		args[i] = tenantID
	}
	return args
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Row is one exported row: its columns' values in a portable form (text, numbers,
// booleans, times in RFC 3339 with nanoseconds, bytes as {"base64": "…"}, null).
type Row map[string]any

// DumpRows calls fn with every row of the tenant in t, in t.Order.
func (db *DB) DumpRows(ctx context.Context, t TableExport, tenantID string, fn func(Row) error) error {
	if !identifier.MatchString(t.Table) {
		return fmt.Errorf("export: bad table name %q", t.Table)
	}
	q := "SELECT * FROM " + t.Table + " WHERE " + t.Where
	if t.Order != "" {
		q += " ORDER BY " + t.Order
	}
	rows, err := db.Conn(ctx).Raw(q, t.Args(tenantID)...).Rows()
	if err != nil {
		return fmt.Errorf("export %s: %w", t.Table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, c := range t.Skip {
		skip[c] = true
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("export %s: %w", t.Table, err)
		}
		row := make(Row, len(cols))
		for i, c := range cols {
			if !skip[c] {
				row[c] = portable(vals[i])
			}
		}
		if t.Transform != nil {
			if err := t.Transform(row); err != nil {
				return fmt.Errorf("export %s: %w", t.Table, err)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

func portable(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return map[string]any{"base64": base64.StdEncoding.EncodeToString(x)}
	case map[string]any, []any:
		b, _ := json.Marshal(x) // a JSON column the driver decoded: kept as its text
		return string(b)
	default:
		return x
	}
}

// columnKind is how a target column takes a value.
type columnKind int

const (
	kindText columnKind = iota
	kindInt
	kindFloat
	kindBool
	kindTime
	kindBytes
)

// columnKinds reads the target table's columns and their kinds from the catalogue.
func (db *DB) columnKinds(ctx context.Context, table string) (map[string]columnKind, error) {
	out := map[string]columnKind{}
	classify := func(name, typ string) {
		typ = strings.ToLower(typ)
		switch {
		case strings.Contains(typ, "bool"):
			out[name] = kindBool
		case strings.Contains(typ, "timestamp") || strings.Contains(typ, "datetime") || typ == "date":
			out[name] = kindTime
		case strings.Contains(typ, "int") || typ == "serial" || typ == "bigserial":
			out[name] = kindInt
		case strings.Contains(typ, "real") || strings.Contains(typ, "double") || strings.Contains(typ, "numeric") || strings.Contains(typ, "float"):
			out[name] = kindFloat
		case strings.Contains(typ, "bytea") || strings.Contains(typ, "blob"):
			out[name] = kindBytes
		default:
			out[name] = kindText
		}
	}
	q := "SELECT name, type FROM pragma_table_info(?)"
	if db.dialect == Postgres {
		q = `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ?`
	}
	rows, err := db.Conn(ctx).Raw(q, table).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		classify(name, typ)
	}
	return out, rows.Err()
}

// Loader inserts exported rows into the tables of this database, converting each value
// to its target column's kind.
type Loader struct {
	db    *DB
	kinds map[string]map[string]columnKind
}

// NewLoader starts loading rows into db (inside the transaction ctx carries, if any).
func (db *DB) NewLoader() *Loader {
	return &Loader{db: db, kinds: map[string]map[string]columnKind{}}
}

// Insert adds one row to table; a column the table lacks is an error (the export is
// from another version).
func (l *Loader) Insert(ctx context.Context, table string, row Row) error {
	if !identifier.MatchString(table) {
		return fmt.Errorf("import: bad table name %q", table)
	}
	kinds, ok := l.kinds[table]
	if !ok {
		var err error
		if kinds, err = l.db.columnKinds(ctx, table); err != nil {
			return err
		}
		if len(kinds) == 0 {
			return fmt.Errorf("import: no table %s here", table)
		}
		l.kinds[table] = kinds
	}
	cols := make([]string, 0, len(row))
	for c := range row {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	args := make([]any, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		kind, ok := kinds[c]
		if !ok || !identifier.MatchString(c) {
			return fmt.Errorf("import: table %s has no column %q", table, c)
		}
		v, err := fromPortable(row[c], kind)
		if err != nil {
			return fmt.Errorf("import %s.%s: %w", table, c, err)
		}
		args[i], marks[i] = v, "?"
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	if err := l.db.Conn(ctx).Exec(q, args...).Error; err != nil {
		return fmt.Errorf("import %s: %w", table, err)
	}
	return nil
}

func fromPortable(v any, kind columnKind) (any, error) {
	if v == nil {
		return nil, nil
	}
	if m, ok := v.(map[string]any); ok {
		if b, ok := m["base64"].(string); ok {
			return base64.StdEncoding.DecodeString(b)
		}
		return nil, fmt.Errorf("unexpected object %v", m)
	}
	switch kind {
	case kindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case json.Number:
			return x.String() != "0", nil
		case float64:
			return x != 0, nil
		case string:
			return strconv.ParseBool(x)
		}
	case kindTime:
		if s, ok := v.(string); ok {
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999"} {
				if t, err := time.Parse(layout, s); err == nil {
					return t.UTC(), nil
				}
			}
			return nil, fmt.Errorf("not a time: %q", s)
		}
	case kindInt:
		switch x := v.(type) {
		case json.Number:
			return x.Int64()
		case float64:
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case string:
			return strconv.ParseInt(x, 10, 64)
		}
	case kindFloat:
		switch x := v.(type) {
		case json.Number:
			return x.Float64()
		case float64:
			return x, nil
		}
	case kindBytes:
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	default:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
	}
	return nil, fmt.Errorf("cannot store %T %v in a column of kind %d", v, v, kind)
}
