/* What the staff pages share (the desk, tasks, statistics, register, routing and weights pages;
   map_ui/chrome.py loads it before each page's own script): escaping, reads with the sign-in
   cookie, writes with the page's CSRF token and — where the API takes one — an Idempotency-Key
   made when the form opens, the API's Chinese error shown, and a confirmed write that a lost
   answer lets the user resend without acting twice. */
window.gridmapStaff = (function () {
'use strict';
function $(sel, el) { return (el || document).querySelector(sel); }
function esc(t) { return String(t == null ? '' : t).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; }); }
function key() { return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
    : 'k' + Date.now() + Math.random().toString(16).slice(2); }
function options(select, pairs) {
    select.insertAdjacentHTML('beforeend', pairs.map(function (p) {
        return '<option value="' + esc(p[0]) + '">' + esc(p[1]) + '</option>'; }).join(''));
}
// the API's error in Chinese, with the rows it names (a table's validation lists each fault)
function problem(b, otherwise) {
    var said = (b && (b.error_zh || b.error)) || otherwise || '请求失败';
    return b && b.problems && b.problems.length ? said + '：' + b.problems.join('；') : said;
}
// a read: the body, or the API's error body thrown
function get(url) {
    return fetch(url, {credentials: 'same-origin'}).then(function (r) {
        return r.json().then(function (b) { if (!r.ok) { throw b; } return b; }); });
}
// a write: resolves [response, body] (a 204 has the body {}); a FormData body goes as multipart,
// anything else as JSON, no body at all when o.body is undefined (a DELETE)
function write(url, o) {
    var headers = {'X-CSRF-Token': o.csrf || ''}, body = o.body;
    if (body !== undefined && !(body instanceof FormData)) {
        headers['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
    if (o.idem) { headers['Idempotency-Key'] = o.idem; }
    return fetch(url, {method: o.method || 'POST', credentials: 'same-origin', body: body, headers: headers})
        .then(function (r) { return r.status === 204 ? [r, {}] : r.json().then(function (b) { return [r, b]; }); });
}
/* The confirmed write of a form: o.url, o.method, o.body, o.csrf, o.idem (keep it for the form's
   life), o.button (disabled while in flight), o.answer (where the outcome is said), o.verb
   (派发, 办理, 保存…), o.done(body) → a promise or nothing. A refusal shows the API's error in
   Chinese; a lost answer offers 重试 with the same key. */
function submit(o) {
    o.button.disabled = true;
    o.answer.textContent = '正在提交…';
    return write(o.url, o).then(function (rb) {
        if (!rb[0].ok) {
            o.answer.innerHTML = '<span class="gm-error">未能' + esc(o.verb) + '：' + esc(problem(rb[1])) + '</span>';
            o.button.disabled = false;
            return;
        }
        return o.done(rb[1]);
    }).catch(function () {
        o.answer.innerHTML = '<span class="gm-error">网络中断，未确认是否' + esc(o.verb) + '成功。</span> ' +
            '<button type="button" class="gm-retry">重试' + (o.idem ? '（不会重复' + esc(o.verb) + '）' : '') + '</button>';
        $('.gm-retry', o.answer).addEventListener('click', function () { submit(o); });
    });
}
// the confirmation step: a question (HTML) and its one button (its id given), which calls go(button)
function confirm(box, question, label, id, go) {
    box.hidden = false;
    box.innerHTML = '<p>' + question + '</p><button type="button" id="' + id + '" class="gm-primary">' +
        esc(label) + '</button>';
    var button = $('#' + id, box);
    button.addEventListener('click', function () { go(button); });
    if (box.scrollIntoView) { box.scrollIntoView({block: 'nearest'}); }
    return button;
}
/* A table saved whole as a new version (the routing table, the assessment weights): o.box,
   o.question, o.id (of the confirm button), o.url, o.body, o.csrf, o.answer, o.reload() → a
   promise, o.after (what the new version means), o.state (the page's test hook). A PUT of the
   same table twice makes an identical version, so it needs no Idempotency-Key. */
function saveVersion(o) {
    confirm(o.box, o.question, '确定保存', o.id, function (button) {
        submit({url: o.url, method: 'PUT', body: o.body, csrf: o.csrf, button: button, answer: o.answer,
                verb: '保存', done: function (b) {
            o.box.hidden = true;
            return o.reload().then(function () {
                o.answer.textContent = '已保存为第 ' + b.version + ' 版，' + o.after;
                o.state.answer = o.answer.textContent;
            });
        }});
    });
}
return {$: $, esc: esc, key: key, options: options, problem: problem, get: get, write: write,
        submit: submit, confirm: confirm, saveVersion: saveVersion};
})();
