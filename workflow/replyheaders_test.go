package workflow

import (
	"slices"
	"testing"
)

// TestReplyHeadersKeepOnlyMessageIDs: whatever the row holds (an export can carry
// anything), a reply's threading headers are made of well-formed Message-IDs only.
func TestReplyHeadersKeepOnlyMessageIDs(t *testing.T) {
	it := &CorrespondenceItem{MessageID: "<rfi@ilo.org>", InReplyTo: "<x@y>\r\nBcc: victim@example.org",
		References: "<a@ilo.org> Bcc:victim@example.org <b@ilo.org>> <c@ilo.org>"}
	h := it.replyHeaders()
	if h == nil || h.InReplyTo != "<rfi@ilo.org>" || !slices.Equal(h.References, []string{"<a@ilo.org>", "<c@ilo.org>", "<rfi@ilo.org>"}) {
		t.Errorf("%+v", h)
	}
	if h := (&CorrespondenceItem{MessageID: "<a@b>\nBcc: x"}).replyHeaders(); h != nil {
		t.Errorf("a malformed Message-ID threads: %+v", h)
	}
}
