package clamd_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/clamd"
	"github.com/unionportal/unionportal/clamd/clamdtest"
)

func scan(t *testing.T, addr string, data []byte) error {
	t.Helper()
	s, err := (&clamd.Client{Addr: addr}).Start(context.Background())
	if err != nil {
		return err
	}
	// Written in pieces, as an upload streams.
	for len(data) > 0 {
		n := min(len(data), 3000)
		if _, err := s.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return s.Verdict()
}

func TestScan(t *testing.T) {
	addr := clamdtest.NewServer(t)
	if err := scan(t, addr, bytes.Repeat([]byte("clean evidence "), 10000)); err != nil {
		t.Errorf("clean file: %v", err)
	}
	err := scan(t, addr, []byte("prefix "+clamdtest.EICAR))
	var infected *clamd.InfectedError
	if !errors.As(err, &infected) || !strings.Contains(infected.Signature, "EICAR") {
		t.Errorf("infected file: %v", err)
	}
	if _, err := (&clamd.Client{Addr: "127.0.0.1:1"}).Start(context.Background()); err == nil {
		t.Error("no daemon, no error")
	}
}
