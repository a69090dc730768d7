package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestAttributesReachEveryLineOfTheContext(t *testing.T) {
	var buf bytes.Buffer
	log := Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := With(context.Background(), slog.String("request_id", "r1"))
	inner := context.WithValue(ctx, struct{}{}, 1) // a derived context shares the bag
	Add(inner, slog.String("user_id", "u1"), slog.String("tenant", "alpha"))
	Add(inner, slog.String("tenant", "beta")) // replaced, not repeated
	log.InfoContext(ctx, "outer line")
	log.InfoContext(context.Background(), "no context")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	var first, second map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "r1" || first["user_id"] != "u1" || first["tenant"] != "beta" {
		t.Errorf("outer line: %v", first)
	}
	if bytes.Count(lines[0], []byte(`"tenant"`)) != 1 {
		t.Errorf("tenant twice: %s", lines[0])
	}
	if err := json.Unmarshal(lines[1], &second); err != nil {
		t.Fatal(err)
	}
	if _, ok := second["request_id"]; ok {
		t.Errorf("a line without the context carries its attributes: %v", second)
	}
	if _, ok := Wrap(Wrap(slog.NewTextHandler(&buf, nil))).(Handler).inner.(Handler); ok {
		t.Error("Wrap wrapped twice")
	}
}
