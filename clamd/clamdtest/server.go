// Package clamdtest is a stand-in ClamAV daemon for tests.
package clamdtest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
)

// EICAR is the standard anti-virus test file.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// NewServer starts a server that speaks clamd's INSTREAM protocol and flags the EICAR test string: ClamAV
// itself cannot run here (its signatures are downloaded from the internet).
func NewServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				cmd := make([]byte, len("zINSTREAM\x00"))
				if _, err := io.ReadFull(conn, cmd); err != nil || string(cmd) != "zINSTREAM\x00" {
					conn.Write([]byte("UNKNOWN COMMAND\x00"))
					return
				}
				var data bytes.Buffer
				for {
					var size uint32
					if err := binary.Read(conn, binary.BigEndian, &size); err != nil {
						return
					}
					if size == 0 {
						break
					}
					if _, err := io.CopyN(&data, conn, int64(size)); err != nil {
						return
					}
				}
				if strings.Contains(data.String(), EICAR) {
					conn.Write([]byte("stream: Win.Test.EICAR_HDB-1 FOUND\x00"))
				} else {
					conn.Write([]byte("stream: OK\x00"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}
