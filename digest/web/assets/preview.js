// The preview page: asks /state for what it shows and sets it as text; /events says when.
const token = document.querySelector('meta[name="digest-preview-token"]').content;
const view = {reader: '', scheme: 'light', version: -1, query: '', page: 0};
const $ = (id) => document.getElementById(id);
function put(id, text) { $(id).textContent = text || ''; }
function item(parts) {
  const li = document.createElement('li');
  for (const [text, kind] of parts) {
    const span = document.createElement('span');
    if (kind) span.className = kind;
    span.textContent = text;
    li.append(span, ' ');
  }
  return li;
}
function list(id, entries) { $(id).replaceChildren(...entries.map(item)); }
function frames() {
  const query = `v=${view.version}&scheme=${view.scheme}&reader=${encodeURIComponent(view.reader)}`;
  for (const id of ['desktop', 'phone']) {
    const src = `/email?${query}`;
    if ($(id).getAttribute('src') !== src) $(id).setAttribute('src', src);
  }
}
async function load() {
  const answer = await fetch(`/state?reader=${encodeURIComponent(view.reader)}`);
  const state = await answer.json();
  view.version = state.version;
  $('error').hidden = !state.error;
  put('error', state.error);
  put('edition', state.edition); put('subject', state.subject); put('preheader', state.preheader);
  put('sender', state.sender); put('reply', state.reply_to);
  put('reader', state.reader ? `${state.reader.name} <${state.reader.email}>` : '');
  put('unsubscribe', state.unsubscribe_link || 'no link');
  put('text', state.text);
  const kb = (state.html_bytes || 0) / 1024;
  $('gauge').value = kb;
  put('size', `${kb.toFixed(1)} KB of HTML; Gmail clips past about ${$('gauge').max} KB`);
  list('warnings', (state.warnings || []).map((w) => [[w]]));
  const post = (p) => [[p.title], [p.date, 'date']];
  list('featured', state.featured ? [post(state.featured)] : []);
  list('teasers', (state.teasers || []).map(post));
  list('passed', (state.passed_over || []).map((p) => [[p.title], [p.date, 'date'], [p.reason, 'why']]));
  put('passed-count', String((state.passed_over || []).length));
  if (state.subject !== undefined) frames();
  document.body.dataset.version = String(state.version);
}
function scheme(name) {
  view.scheme = name;
  document.body.classList.toggle('dark', name === 'dark');
  $('light').setAttribute('aria-pressed', String(name === 'light'));
  $('dark').setAttribute('aria-pressed', String(name === 'dark'));
  frames();
}
async function readers(more) {
  view.page = more ? view.page + 1 : 0;
  const answer = await fetch(`/readers?q=${encodeURIComponent(view.query)}&page=${view.page}`);
  const found = await answer.json();
  const buttons = found.readers.map((r) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    const fields = Object.entries(r.fields).map(([k, v]) => `${k}: ${v}`).join(', ');
    button.textContent = `${r.name || '(no name)'} <${r.email}>${fields ? ' · ' + fields : ''}`;
    button.addEventListener('click', () => { view.reader = r.email; load(); });
    li.append(button);
    return li;
  });
  if (more) $('readers').append(...buttons); else $('readers').replaceChildren(...buttons);
  $('more').hidden = !found.more;
}
async function sendTest(event) {
  event.preventDefault();
  const to = $('to').value.split(/[\s,;]+/).filter(Boolean);
  put('sent', 'Sending…');
  const answer = await fetch('/test-send', {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-Digest-Token': token},
    body: JSON.stringify({to: to}),
  });
  const said = await answer.json().catch(() => ({message: `refused (${answer.status})`}));
  put('sent', said.message);
}
$('light').addEventListener('click', () => scheme('light'));
$('dark').addEventListener('click', () => scheme('dark'));
$('search').addEventListener('input', (e) => { view.query = e.target.value; readers(false); });
$('more').addEventListener('click', () => readers(true));
$('test').addEventListener('submit', sendTest);
const events = new EventSource('/events');
events.addEventListener('render', () => load());
events.addEventListener('open', () => put('live', 'live: updates as you save'));
events.addEventListener('error', () => put('live', 'reconnecting…'));
readers(false);
