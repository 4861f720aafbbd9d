package app

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// ServeFile is the file a running serve keeps in its data folder, so
// that CLI commands on the same folder find its admin API instead of
// failing on the database's lock.
const ServeFile = "leadhost-serve.json"

// ServeInfo is what ServeFile holds.
type ServeInfo struct {
	// URL is where the admin API answers this machine's clients
	// ("http://127.0.0.1:8080" for a serve listening on ":8080").
	URL string `json:"url"`
	PID int    `json:"pid"`
	// Token is the token the serve made at its start for changes through
	// its admin API when no api_token is set ("" when one is): the file
	// is readable by the data folder's owner only, so only who may read
	// the data anyway holds it.
	Token string `json:"token,omitempty"`
}

// WriteServeInfo writes ServeFile into dir for a serve listening on addr
// with its local token (may be ""); remove takes it away again when
// serve stops.
func WriteServeInfo(dir string, addr net.Addr, token string) (remove func(), err error) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("serve info: %s is not a TCP address", addr)
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	info := ServeInfo{URL: "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port)), PID: os.Getpid(), Token: token}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, ServeFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return func() { os.Remove(path) }, nil
}

// ReadServeInfo reads the ServeFile of dir (an error wrapping
// os.ErrNotExist when there is none).
func ReadServeInfo(dir string) (ServeInfo, error) {
	var info ServeInfo
	b, err := os.ReadFile(filepath.Join(dir, ServeFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil || info.URL == "" {
		return info, fmt.Errorf("%s: not a serve's address file", filepath.Join(dir, ServeFile))
	}
	return info, nil
}
