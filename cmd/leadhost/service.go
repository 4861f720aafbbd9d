package main

import (
	"context"
	"errors"
	"fmt"

	"leadhost/api"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/store"
)

// service is what the CLI's lead and check commands talk to: the app on
// a database the command opened itself (app.App), or, when a serve holds
// the folder, that serve's admin API (api.Client). Both give the same
// answers and errors, so a command's output and exit code do not depend
// on which it got.
type service interface {
	AddLead(ctx context.Context, input []byte, by string) (*store.Lead, bool, error)
	EditLead(ctx context.Context, id uint64, input []byte, by string) (*store.Lead, error)
	LeadWithHistory(ctx context.Context, id uint64) (*store.Lead, error)
	CheckNow(ctx context.Context, offer string, req app.CheckRequest) (*check.Report, error)
}

var (
	_ service = (*app.App)(nil)
	_ service = (*api.Client)(nil)
)

// openService opens the app on dataDir for one command, or finds the
// serve that holds it through the address it keeps there. done closes
// what was opened.
func openService(ctx context.Context, dataDir, scriptsDir, token string) (s service, done func() error, err error) {
	a, err := app.Open(ctx, app.Config{Data: dataDir, Scripts: scriptsDir, OneShot: true})
	if err == nil {
		return a, a.Close, nil
	}
	if !errors.Is(err, app.ErrLocked) {
		return nil, nil, err
	}
	info, ierr := app.ReadServeInfo(dataDir)
	if ierr != nil {
		return nil, nil, fmt.Errorf("%w; and no serve's address found there: %v", err, ierr)
	}
	return &api.Client{Base: info.URL, Token: token}, func() error { return nil }, nil
}
