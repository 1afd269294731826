package console

import (
	"net/http"
	"strings"
)

// Languages the console speaks: English and Simplified Chinese.
const (
	langEN = "en"
	langZH = "zh"
)

// langCookie keeps the language picked with the switch.
const langCookie = "dsgate_console_lang"

// rememberLanguage keeps the language picked with the switch (?lang=) in
// a cookie.
func rememberLanguage(w http.ResponseWriter, r *http.Request) {
	if l := r.URL.Query().Get("lang"); l == langEN || l == langZH {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: Prefix + "/", MaxAge: 365 * 24 * 3600,
			SameSite: http.SameSiteStrictMode, HttpOnly: true, Secure: r.TLS != nil})
	}
}

// language picks the page's language: the switch (?lang=, remembered in a
// cookie), else the browser's Accept-Language, else English.
func language(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == langEN || l == langZH {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == langEN || c.Value == langZH) {
		return c.Value
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return langZH
		case strings.HasPrefix(tag, "en"):
			return langEN
		}
	}
	return langEN
}

// translate returns the text for key in lang; a key without a translation
// shows in English, and an unknown key shows as itself.
func translate(lang, key string) string {
	if m, ok := messages[key]; ok {
		if lang == langZH && m[1] != "" {
			return m[1]
		}
		return m[0]
	}
	return key
}

// messages are the console's texts: key -> {English, Simplified Chinese}.
var messages = map[string][2]string{
	"title":            {"dsgate console", "dsgate 控制台"},
	"overview":         {"Overview", "概览"},
	"upstreams":        {"Models & upstreams", "模型与上游"},
	"keys":             {"Keys", "密钥"},
	"usage":            {"Usage & cost", "用量与费用"},
	"requests":         {"Requests", "请求"},
	"config":           {"Configuration", "配置"},
	"sign_in":          {"Sign in", "登录"},
	"sign_out":         {"Sign out", "退出"},
	"api_key":          {"API key", "API 密钥"},
	"sign_in_help":     {"Sign in with an API key. What you see follows its role.", "使用 API 密钥登录，可见内容取决于其角色。"},
	"sso":              {"Single sign-on", "单点登录"},
	"sign_in_with":     {"Sign in with", "登录方式："},
	"bad_key":          {"That key is not valid.", "密钥无效。"},
	"try_later":        {"Too many attempts or the store is unavailable; try again later.", "尝试次数过多或存储不可用，请稍后再试。"},
	"csrf_failed":      {"The form expired or came from another site; reload the page and try again.", "表单已过期或来自其他站点，请刷新页面后重试。"},
	"signed_out":       {"You are signed out.", "您已退出登录。"},
	"forbidden":        {"Your role does not allow this.", "您的角色无权执行此操作。"},
	"not_found":        {"Not found.", "未找到。"},
	"internal":         {"Something went wrong; see the gateway's log.", "出现错误，请查看网关日志。"},
	"signed_in_as":     {"Signed in as", "当前用户"},
	"role":             {"Role", "角色"},
	"last_hour":        {"Last hour", "最近一小时"},
	"last_day":         {"Last day", "最近一天"},
	"requests_n":       {"Requests", "请求数"},
	"rps":              {"Requests/s", "每秒请求"},
	"error_ratio":      {"Error ratio (5xx)", "错误率（5xx）"},
	"refused":          {"Refused (4xx)", "拒绝（4xx）"},
	"latency":          {"Latency p50 / p95", "延迟 p50 / p95"},
	"ttft":             {"Time to first token p50 / p95", "首字延迟 p50 / p95"},
	"tokens":           {"Tokens in / out", "输入 / 输出 Token"},
	"cost":             {"Cost", "费用"},
	"saved":            {"Saved by cache", "缓存节省"},
	"cache_hits":       {"Cache hits", "缓存命中"},
	"alerts":           {"Alerts", "告警"},
	"no_alerts":        {"No alerts.", "无告警。"},
	"alert_breaker":    {"Circuit breaker open", "熔断器已打开"},
	"alert_unhealthy":  {"Upstream unhealthy", "上游不健康"},
	"alert_balance":    {"DeepSeek balance exhausted", "DeepSeek 余额不足"},
	"alert_cert":       {"TLS certificate expires soon", "TLS 证书即将过期"},
	"alert_budget":     {"Budget near its limit", "预算接近上限"},
	"chart_requests":   {"Requests per minute", "每分钟请求数"},
	"chart_latency":    {"p95 latency per minute", "每分钟 p95 延迟"},
	"live":             {"Live: refreshes every 5 s", "实时：每 5 秒刷新"},
	"model":            {"Model", "模型"},
	"targets":          {"Targets", "目标"},
	"upstream":         {"Upstream", "上游"},
	"kind":             {"Kind", "类型"},
	"health":           {"Health", "健康"},
	"healthy":          {"healthy", "健康"},
	"unhealthy":        {"unhealthy", "不健康"},
	"breaker":          {"Breaker", "熔断器"},
	"in_flight":        {"In flight", "进行中"},
	"load":             {"Load", "负载"},
	"last_error":       {"Last error", "最近错误"},
	"balance":          {"Balance", "余额"},
	"name":             {"Name", "名称"},
	"id":               {"ID", "ID"},
	"models_allowed":   {"Models (allow-list)", "模型（允许列表）"},
	"limits":           {"Limits (RPM / TPM / concurrent)", "限额（RPM / TPM / 并发）"},
	"created":          {"Created", "创建时间"},
	"expires":          {"Expires", "过期时间"},
	"expires_in":       {"Expires in (e.g. 90d, 12h; empty: never)", "有效期（如 90d、12h，留空为永不过期）"},
	"revoked":          {"Revoked", "已吊销"},
	"revoke":           {"Revoke", "吊销"},
	"active":           {"active", "有效"},
	"create_key":       {"Create a key", "创建密钥"},
	"create":           {"Create", "创建"},
	"new_key":          {"New key: copy it now, it is shown only once.", "新密钥：请立即复制，它只显示一次。"},
	"copy":             {"Copy", "复制"},
	"key_revoked":      {"Key revoked.", "密钥已吊销。"},
	"comma_separated":  {"comma separated, * patterns allowed", "逗号分隔，可用 * 通配"},
	"from":             {"From", "开始"},
	"to":               {"To", "结束"},
	"group_by":         {"Group by", "分组"},
	"team":             {"Team", "团队"},
	"principal":        {"Principal", "主体"},
	"day":              {"Day", "日期"},
	"show":             {"Show", "查询"},
	"export_csv":       {"Export CSV", "导出 CSV"},
	"own_usage":        {"Your own usage only (your role does not see others').", "仅显示您自己的用量（您的角色不能查看他人）。"},
	"total":            {"Total", "合计"},
	"cache_hit_ratio":  {"Cache hit ratio", "缓存命中率"},
	"nothing":          {"Nothing yet.", "暂无数据。"},
	"request_id":       {"Request ID", "请求 ID"},
	"status":           {"Status", "状态"},
	"since":            {"Since", "起始时间"},
	"search":           {"Search", "搜索"},
	"time":             {"Time", "时间"},
	"verify_chain":     {"Verify the audit chain", "校验审计链"},
	"chain_ok":         {"Audit chain intact", "审计链完整"},
	"chain_broken":     {"Audit chain broken", "审计链已损坏"},
	"records":          {"records", "条记录"},
	"audit_off":        {"The audit trail is off (audit.enabled) or not written to files.", "审计日志未开启（audit.enabled）或未写入文件。"},
	"detail":           {"Request detail", "请求详情"},
	"attempts":         {"Attempts", "尝试次数"},
	"hashes":           {"Hashes", "哈希"},
	"running_config":   {"Running configuration (secrets redacted)", "运行中的配置（已隐藏密钥）"},
	"reloads":          {"Reload history", "重载历史"},
	"last_refused":     {"Last refused reload", "最近一次被拒绝的重载"},
	"ok":               {"applied", "已应用"},
	"refused_reload":   {"refused", "已拒绝"},
	"no_reloads":       {"No reload since start.", "启动以来没有重载。"},
	"language":         {"中文", "English"},
	"menu":             {"Menu", "菜单"},
	"cache_results":    {"Cache", "缓存"},
	"cache":            {"Cache & batches", "缓存与批处理"},
	"cache_tiers":      {"Cache tiers", "缓存层"},
	"cache_off":        {"The response cache is off (cache.enabled).", "响应缓存未开启（cache.enabled）。"},
	"entries":          {"Entries", "条目"},
	"bytes":            {"Bytes", "字节"},
	"purge":            {"Purge", "清除"},
	"purged":           {"Purged entries", "已清除条目"},
	"all_models":       {"every model", "所有模型"},
	"batches":          {"Batch jobs in progress", "进行中的批处理任务"},
	"batches_off":      {"The Batch API is off, or your role does not see every owner's jobs.", "批处理 API 未开启，或您的角色无权查看所有任务。"},
	"progress":         {"Done + failed / total", "完成 + 失败 / 总数"},
	"cancel":           {"Cancel", "取消"},
	"drain":            {"Drain", "摘除"},
	"enable":           {"Re-enable", "恢复"},
	"drained":          {"drained", "已摘除"},
	"retry_in":         {"trial in", "试探倒计时"},
	"clients":          {"OAuth2 clients", "OAuth2 客户端"},
	"teams":            {"Teams", "团队"},
	"members":          {"Members", "成员"},
	"scopes":           {"Scopes", "范围"},
	"latency_ms":       {"Latency", "延迟"},
	"error_type":       {"Error", "错误"},
	"client_addr":      {"Client address", "客户端地址"},
	"route":            {"Route", "路由"},
	"input_hash":       {"Input SHA-256", "输入 SHA-256"},
	"output_hash":      {"Output SHA-256", "输出 SHA-256"},
	"record_hash":      {"Record hash", "记录哈希"},
	"prev_hash":        {"Previous hash", "前一记录哈希"},
	"seq":              {"Sequence", "序号"},
	"not_in_trail":     {"No record with this id in the audit trail.", "审计日志中没有该 ID 的记录。"},
	"matching_records": {"Newest matching records (at most 200)", "最新的匹配记录（最多 200 条）"},
	"key":              {"API key", "API 密钥"},
	"client":           {"OAuth2 client", "OAuth2 客户端"},
	"budgets":          {"Budgets", "预算"},
	"subject":          {"Subject", "对象"},
	"period":           {"Period", "周期"},
	"amount":           {"Amount", "金额"},
	"spent":            {"Spent", "已用"},
	"state":            {"State", "状态"},
	"resets":           {"Resets", "重置时间"},
	"currency":         {"Currency", "币种"},
	"delete":           {"Delete", "删除"},
	"save":             {"Save", "保存"},
	"set_budget":       {"Set budget", "设置预算"},
	"soft_threshold":   {"Soft threshold (0-1)", "软阈值（0-1）"},
	"new_client":       {"New OAuth2 client: copy the secret now, it is not shown again.", "新 OAuth2 客户端：请立即复制密钥，之后不会再显示。"},
	"create_client":    {"Create an OAuth2 client", "创建 OAuth2 客户端"},
	"create_team":      {"Create a team", "创建团队"},
	"changes_saved":    {"Saved.", "已保存。"},
	"budget_ok":        {"ok", "正常"},
	"budget_soft":      {"past soft threshold", "超过软阈值"},
	"budget_hard":      {"exhausted: refused", "已用尽：拒绝请求"},
	"budgets_off":      {"No budget state (budgets are off).", "没有预算状态（未启用预算）。"},
	"budgets_help":     {"Budgets in force (configuration and runtime entries) with their spending in the current period. Subjects are key:<id>, client:<id> or team:<name>.", "生效中的预算（配置与运行时条目）及本周期的花费。对象为 key:<id>、client:<id> 或 team:<name>。"},
	"runtime_budgets":  {"Runtime budgets (set here or with the admin API)", "运行时预算（在此处或通过管理 API 设置）"},
	"limits_help":      {"Empty models: every model the role allows. Empty or 0 limit: the role's or global default. You cannot grant models you do not hold.", "模型留空：角色允许的全部模型。限额留空或为 0：使用角色或全局默认值。不能授予自己没有的模型。"},
	"download_output":  {"Output file", "输出文件"},
	"download_errors":  {"Error file", "错误文件"},
	"find_batch":       {"Find a batch by id", "按 ID 查找批处理"},
}
