package hosttest

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Mailbox is an SMTP server on 127.0.0.1:0 that keeps every mail it
// receives ("from A to B\n" and the message), stopped when the test ends.
type Mailbox struct {
	mu    sync.Mutex
	mails []string
}

// StartMailbox starts a mailbox and gives its address (host:port).
func StartMailbox(t testing.TB) (*Mailbox, string) {
	t.Helper()
	box := &Mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, ln.Addr().String()
}

// Mails are the mails received so far, oldest first.
func (m *Mailbox) Mails() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mails...)
}

// NewSession is the server's side of one SMTP connection.
func (m *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

type mailSession struct {
	m        *Mailbox
	from, to string
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.mails = append(s.m.mails, "from "+s.from+" to "+s.to+"\n"+string(b))
	s.m.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }
