package console

import (
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// lang is a language the console speaks.
type lang string

const (
	english lang = "en"
	russian lang = "ru"
	// langCookie keeps the language a person switched to.
	langCookie = "leadhost_lang"
)

// messages is the console's one message catalog: each key in English
// and Russian. A key missing here shows as itself, which a test catches.
var messages = map[string][2]string{
	"nav.overview":              {"Overview", "Обзор"},
	"nav.journal":               {"Journal", "Журнал"},
	"nav.leads":                 {"Leads", "Лиды"},
	"nav.held":                  {"Held work", "Задержанное"},
	"nav.signout":               {"Sign out", "Выйти"},
	"nav.language":              {"Русский", "English"},
	"signin.title":              {"Sign in", "Вход"},
	"signin.token":              {"Admin token", "Токен администратора"},
	"signin.local_token":        {"Serve's local token (in the data folder's leadhost-serve.json)", "Локальный токен serve (файл leadhost-serve.json в папке данных)"},
	"signin.submit":             {"Sign in", "Войти"},
	"signin.wrong":              {"That token is not the one this leadhost takes.", "Этот токен не подходит."},
	"signin.too_many":           {"%d wrong tokens from your address within %d minutes: the next one is read in %s.", "%d неверных токенов с вашего адреса за %d минут: следующий будет проверен через %s."},
	"signin.none":               {"No token is set on this leadhost: start serve with --api-token to sign in.", "На этом leadhost не задан токен: запустите serve с --api-token, чтобы войти."},
	"access.sign_in_to_change":  {"Sign in to change anything.", "Чтобы что-то менять, войдите."},
	"access.csrf":               {"The form's token is missing or stale: nothing was changed. Reload the page and try again.", "У формы нет действующего токена: ничего не изменено. Обновите страницу и повторите."},
	"access.cross_site":         {"A form from another site is not taken: nothing was changed.", "Форма с другого сайта не принимается: ничего не изменено."},
	"err.title":                 {"Error", "Ошибка"},
	"err.no_page":               {"No such page.", "Нет такой страницы."},
	"overview.title":            {"Offers", "Офферы"},
	"overview.offer":            {"Offer", "Оффер"},
	"overview.checks":           {"Checks", "Проверки"},
	"overview.errors24":         {"Errors, 24 h", "Ошибки за 24 ч"},
	"overview.calls":            {"webhook calls", "вызовов вебхука"},
	"overview.errors":           {"errors", "ошибок"},
	"overview.counting":         {"counting the journal…", "журнал ещё считается…"},
	"overview.chart":            {"Webhook calls and errors by hour, last 24 h", "Вызовы вебхука и ошибки по часам за 24 ч"},
	"overview.leads":            {"Leads by status", "Лиды по статусам"},
	"overview.outbox":           {"Outbox", "Очередь"},
	"overview.pending":          {"waiting", "ждут"},
	"overview.held":             {"held", "задержано"},
	"overview.circuit_open":     {"circuit open until", "отправка приостановлена до"},
	"overview.circuit_closed":   {"partner reachable", "партнёр доступен"},
	"overview.no_checks":        {"no checks", "нет проверок"},
	"overview.never":            {"not run yet", "ещё не запускалась"},
	"overview.next":             {"next", "следующая"},
	"overview.load_errors":      {"Does not load", "Не загружается"},
	"overview.no_offers":        {"No offers in the scripts folder.", "В папке scripts нет офферов."},
	"journal.title":             {"Journal", "Журнал"},
	"journal.offer":             {"Offer", "Оффер"},
	"journal.node":              {"Node", "Узел"},
	"overview.node_versions":    {"Versions differ between nodes:", "Версии на узлах различаются:"},
	"overview.newest":           {"newest: its schedules run", "новейшая: по ней идут проверки"},
	"journal.kind":              {"Kind", "Тип"},
	"journal.status":            {"Status", "Статус"},
	"journal.since":             {"Since (1h, or 2026-01-02T15:04:05Z)", "С (1h или 2026-01-02T15:04:05Z)"},
	"journal.any":               {"any", "все"},
	"journal.filter":            {"Show", "Показать"},
	"journal.at":                {"When", "Когда"},
	"journal.took":              {"Took", "Длилось"},
	"journal.summary":           {"What", "Что"},
	"journal.more":              {"Older", "Раньше"},
	"journal.live":              {"New entries appear here as they come.", "Новые записи появляются здесь сами."},
	"journal.empty":             {"No entries.", "Записей нет."},
	"entry.title":               {"Journal entry", "Запись журнала"},
	"entry.request":             {"Request", "Запрос"},
	"entry.response":            {"Response", "Ответ"},
	"entry.logs":                {"Script's log", "Лог скрипта"},
	"entry.detail":              {"Detail", "Подробности"},
	"entry.show_raw":            {"Show raw (unmasked)", "Показать без маскировки"},
	"entry.show_masked":         {"Show masked", "Показать с маскировкой"},
	"entry.replay":              {"Replay…", "Повторить…"},
	"replay.title":              {"Replay", "Повтор"},
	"replay.confirm":            {"Run this call again, as it came, with the offer's current token and scripts? Its script runs for real: leads it adds or edits are stored.", "Выполнить этот вызов ещё раз, как он пришёл, с текущим токеном и скриптами оффера? Скрипт выполнится по-настоящему: добавленные или изменённые лиды сохранятся."},
	"replay.do":                 {"Replay", "Повторить"},
	"replay.cancel":             {"Cancel", "Отмена"},
	"replay.done":               {"Replayed. The call was answered", "Повторено. Ответ на вызов"},
	"replay.newest":             {"The offer's newest entries", "Последние записи оффера"},
	"leads.title":               {"Leads", "Лиды"},
	"leads.ext":                 {"Partner's ID", "ID у партнёра"},
	"leads.status":              {"Status", "Статус"},
	"leads.created":             {"Created", "Создан"},
	"leads.contact":             {"Contact", "Контакт"},
	"leads.find":                {"Phone or e-mail", "Телефон или e-mail"},
	"leads.anyoffer":            {"any (with a phone or e-mail)", "любой (по телефону или e-mail)"},
	"leads.more":                {"Next page", "Следующая страница"},
	"leads.empty":               {"No leads.", "Лидов нет."},
	"lead.title":                {"Lead", "Лид"},
	"lead.fields":               {"Fields", "Поля"},
	"lead.money":                {"Money", "Деньги"},
	"lead.base":                 {"Unit price", "Цена за единицу"},
	"lead.counts":               {"Units", "Количество"},
	"lead.reason":               {"Reason", "Причина"},
	"lead.comment":              {"Comment", "Комментарий"},
	"lead.hold_until":           {"Held until", "Холд до"},
	"lead.hold_days":            {"Hold for days", "Холд, дней"},
	"lead.history":              {"History", "История"},
	"lead.by":                   {"by", "кто"},
	"lead.edit":                 {"Edit", "Изменить"},
	"lead.save":                 {"Save", "Сохранить"},
	"lead.no_reason":            {"(none)", "(нет)"},
	"lead.saved":                {"Saved.", "Сохранено."},
	"lead.refused":              {"Not saved:", "Не сохранено:"},
	"lead.read_only":            {"Sign in with the token to edit.", "Чтобы изменить, войдите с токеном."},
	"lead.accepted_at":          {"Approved at", "Подтверждён"},
	"lead.updated":              {"Updated", "Изменён"},
	"held.title":                {"Held work", "Задержанные отправки"},
	"held.help":                 {"Sends and postbacks held for a person: in doubt (the partner may or may not have got them: sending again could make a double), or failing in the offer's script. Check with the partner, then release one to be delivered again, or drop it.", "Отправки и постбэки, ожидающие решения человека: под сомнением (партнёр мог их получить или нет — повторная отправка может создать дубль) или с ошибкой в скрипте оффера. Уточните у партнёра, затем отпустите на повторную доставку или удалите."},
	"held.outbox":               {"Outbox", "Очередь"},
	"held.change":               {"Change", "Изменение"},
	"held.tries":                {"Tries", "Попыток"},
	"held.in_flight":            {"in doubt", "под сомнением"},
	"held.why":                  {"Last error", "Последняя ошибка"},
	"held.release":              {"Release…", "Отпустить…"},
	"held.drop":                 {"Drop…", "Удалить…"},
	"held.empty":                {"Nothing is held.", "Ничего не задержано."},
	"held.more":                 {"Only the first 100 of each outbox are shown: release or drop them to see the next (GET /api/outbox/<outbox>?state=held lists 1000).", "Показаны только первые 100 в каждой очереди: отпустите или удалите их, чтобы увидеть следующие (GET /api/outbox/<outbox>?state=held показывает 1000)."},
	"held.read_only":            {"Sign in with the token to release or drop.", "Чтобы отпустить или удалить, войдите с токеном."},
	"held.release_title":        {"Release a held item", "Отпустить задержанное"},
	"held.drop_title":           {"Drop a held item", "Удалить задержанное"},
	"held.release_confirm":      {"Deliver it again? If the partner did get it, it may now have it twice: check with them first.", "Доставить повторно? Если партнёр уже получил его, у него может появиться дубль: сначала уточните у партнёра."},
	"held.drop_confirm":         {"Drop it for good? It will not be delivered; the lead itself stays as it is.", "Удалить навсегда? Оно не будет доставлено; сам лид останется как есть."},
	"held.release_do":           {"Release", "Отпустить"},
	"held.drop_do":              {"Drop", "Удалить"},
	"held.released":             {"Released: it goes out with the outbox's next round.", "Отпущено: уйдёт со следующим проходом очереди."},
	"held.dropped":              {"Dropped: it will not be delivered.", "Удалено: доставлено не будет."},
	"held.gone":                 {"This item is not held (any more): released or dropped meanwhile, or settled by an edit of its lead.", "Этот элемент (уже) не задержан: его отпустили или удалили, или лид изменили."},
	"offer.title":               {"Offer", "Оффер"},
	"offer.name":                {"Name", "Название"},
	"offer.version":             {"Version", "Версия"},
	"offer.loaded":              {"loaded", "загружена"},
	"offer.never_loaded":        {"never loaded", "ни разу не загрузилась"},
	"offer.keeps_running":       {"still running", "продолжает работать"},
	"offer.its_leads":           {"its leads", "его лиды"},
	"offer.its_journal":         {"its journal", "его журнал"},
	"offer.addresses":           {"Addresses for partners", "Адреса для партнёров"},
	"offer.no_addresses":        {"No webhook or postback address: the offer has no hook script and no [postback] token.", "Нет адресов вебхука и постбэка: у оффера нет скрипта hook и токена [postback]."},
	"offer.show_token":          {"Show the token", "Показать токен"},
	"offer.token_signed_in":     {"Sign in with the token to see the addresses with their token.", "Чтобы увидеть адреса с токеном, войдите с токеном."},
	"offer.mode":                {"Mode", "Режим"},
	"offer.every":               {"Every", "Каждые"},
	"offer.last_run":            {"Last run (requests / leads / edits)", "Последний запуск (запросы / лиды / правки)"},
	"offer.fails":               {"failed in a row", "неудачных подряд"},
	"offer.check_now":           {"Run a check now", "Запустить проверку"},
	"offer.dry":                 {"Dry: show the edits, commit nothing", "Пробно: показать правки, ничего не сохранять"},
	"offer.run":                 {"Run", "Запустить"},
	"offer.sign_in_to_run":      {"Sign in with the token to run checks.", "Чтобы запускать проверки, войдите с токеном."},
	"offer.try":                 {"Try an answer", "Проверить ответ"},
	"offer.try_help":            {"Paste a partner's answer: check.lua reads it as the mode would and the edits it would make are shown. Nothing is committed and nothing is asked of the partner.", "Вставьте ответ партнёра: check.lua прочитает его, как в этом режиме, и покажет правки, которые сделал бы. Ничего не сохраняется, партнёру ничего не отправляется."},
	"offer.try_leads":           {"Leads it is about (ids, optional)", "О каких лидах (id, необязательно)"},
	"offer.answer":              {"The partner's answer", "Ответ партнёра"},
	"offer.try_run":             {"Show the edits", "Показать правки"},
	"offer.try_empty":           {"Paste the partner's answer first.", "Сначала вставьте ответ партнёра."},
	"offer.try_report":          {"The answer tried", "Проверенный ответ"},
	"offer.check_report":        {"Check run", "Проверка"},
	"offer.dry_done":            {"dry: nothing committed", "пробно: ничего не сохранено"},
	"offer.ran":                 {"The check ran: %d field changes committed.", "Проверка выполнена: сохранено изменений полей: %d."},
	"offer.ran_dry":             {"Dry run: %d field changes shown, nothing committed.", "Пробный запуск: показано изменений полей: %d, ничего не сохранено."},
	"offer.leads_asked":         {"leads asked about", "лидов запрошено"},
	"offer.pasted":              {"(the answer pasted: nothing was asked)", "(вставленный ответ: запроса не было)"},
	"offer.requests":            {"Requests and the partner's answers", "Запросы и ответы партнёра"},
	"offer.request":             {"Request", "Запрос"},
	"offer.answer_of":           {"Partner's answer", "Ответ партнёра"},
	"offer.edits":               {"Edits", "Правки"},
	"offer.field":               {"Field", "Поле"},
	"offer.old_new":             {"Old → new", "Было → стало"},
	"offer.no_edits":            {"No edits.", "Правок нет."},
	"offer.refused":             {"Edits refused by the rules", "Правки, отклонённые правилами"},
	"offer.settings":            {"Settings (offer.toml as loaded)", "Настройки (offer.toml, как загружен)"},
	"offer.files":               {"Files", "Файлы"},
	"offer.file_problems":       {"does not load", "не загружается"},
	"offer.file_loaded":         {"running", "работает"},
	"offer.file_not_loaded":     {"not loaded", "не загружен"},
	"candidate.title":           {"Candidate (next/)", "Кандидат (next/)"},
	"candidate.none":            {"No candidate. Put the files to try (any of offer.toml, the .lua files, hooks/) in scripts/%s/next/: it runs in shadow on every input the live version gets, nothing committed or sent, and its differences show here.", "Кандидата нет. Положите файлы для пробы (любые из offer.toml, .lua, hooks/) в scripts/%s/next/: он будет работать в тени на каждом входе живой версии, ничего не сохраняя и не отправляя, а отличия появятся здесь."},
	"candidate.version":         {"candidate v%d (next/: %s) beside live v%d", "кандидат v%d (next/: %s) рядом с живой v%d"},
	"candidate.broken":          {"The candidate (next/) does not load; the live version is not affected:", "Кандидат (next/) не загружается; живая версия не затронута:"},
	"candidate.counts":          {"%d inputs compared, %d differ", "сравнено входов: %d, отличаются: %d"},
	"candidate.live_traffic":    {"on live traffic since serve started", "на живом трафике с запуска serve"},
	"candidate.replay_traffic":  {"over the journal's last inputs, run again now; nothing committed", "на последних входах журнала, прогнанных заново; ничего не сохранено"},
	"candidate.dropped":         {"%d not compared: the shadow queue was full", "не сравнено: %d, очередь была полна"},
	"candidate.stopped":         {"Shadow runs stopped:", "Теневые прогоны остановлены:"},
	"candidate.no_diffs":        {"No differences.", "Отличий нет."},
	"candidate.what":            {"What", "Что"},
	"candidate.live":            {"Live", "Живая"},
	"candidate.candidate":       {"Candidate", "Кандидат"},
	"candidate.compare":         {"Compare over the last K inputs", "Сравнить на последних K входах"},
	"candidate.last":            {"K", "K"},
	"candidate.promote":         {"Promote", "Сделать живой"},
	"candidate.promote_title":   {"Promote the candidate of", "Сделать живым кандидата оффера"},
	"candidate.promote_confirm": {"Promote makes these files of next/ live: each is written over the live one, the files replaced are kept in .prev/, next/ is removed and the offer reloads. Calls in flight finish on the version they started with.", "Эти файлы из next/ станут живыми: каждый запишется поверх живого, заменённые сохранятся в .prev/, папка next/ удалится, оффер перезагрузится. Вызовы в работе закончатся на той версии, на которой начались."},
	"candidate.promote_do":      {"Promote now", "Сделать живой сейчас"},
	"candidate.promote_none":    {"Nothing to promote: no candidate that loads.", "Нечего делать живым: нет загружающегося кандидата."},
	"candidate.promoted":        {"Promoted: the candidate is live; the files it replaced are in %s/.", "Готово: кандидат стал живой версией; заменённые файлы в %s/."},
	"candidate.replayed":        {"Compared over the journal: %d inputs, %d differ.", "Сравнено по журналу: входов %d, отличаются %d."},
	"candidate.bad_last":        {"K %q: want 1..%d.", "K %q: нужно 1..%d."},
	"candidate.sign_in":         {"Sign in with the token to compare or promote.", "Чтобы сравнивать и делать живой, войдите с токеном."},
	"offer.file_cut":            {"The file goes on: only its first 256 KiB are shown.", "Файл длиннее: показаны первые 256 КиБ."},
}

func (l lang) message(key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if l == russian {
		return m[1]
	}
	return m[0]
}

// other is the language the switch offers.
func (l lang) other() lang {
	if l == russian {
		return english
	}
	return russian
}

// chooseLanguage is the language a person switched to (the cookie), else
// the first of English and Russian their browser asks for
// (Accept-Language, by its q weights), else English.
func chooseLanguage(c *fasthttp.RequestCtx) lang {
	switch lang(c.Request.Header.Cookie(langCookie)) {
	case english:
		return english
	case russian:
		return russian
	}
	best, bestQ := english, 0.0
	for _, part := range strings.Split(string(c.Request.Header.Peek("Accept-Language")), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if l := lang(primary); (l == english || l == russian) && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// switchLanguage is /ui/lang?to=en|ru&back=PATH: it keeps the choice in a
// cookie and goes back to the page. It changes nothing stored: a link,
// not a form.
func (cs *Console) switchLanguage(r *request) {
	to := lang(r.QueryArgs().Peek("to"))
	if to != english && to != russian {
		to = r.lang.other()
	}
	var ck fasthttp.Cookie
	ck.SetKey(langCookie)
	ck.SetValue(string(to))
	ck.SetPath("/ui/")
	ck.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	ck.SetMaxAge(365 * 24 * 3600)
	r.Response.Header.SetCookie(&ck)
	seeOther(r.RequestCtx, safeNext(string(r.QueryArgs().Peek("back"))))
}
