// lab.js drives the lab page. It keeps the build context the person edits,
// posts it to POST /api/builds and follows the build's WebSocket stream,
// changing the page in place as each event arrives. The server renders the
// markup; new rows come from the <template> elements of the page, so this
// file never writes HTML. kit.js, loaded first, brings the helpers it shares
// with the compare page. No framework and no build step.
(function () {
	'use strict';

	const dataEl = document.getElementById('lab-data');
	if (!dataEl) {
		return;
	}
	const initial = JSON.parse(dataEl.textContent);
	const {
		byTestId, fromTemplate, formatMs, formatLines, formatBytes, showBytes, clearBytes, follow,
	} = window.layerlabKit;

	const els = {};
	[
		'file-list', 'file-add-form', 'file-add-input', 'file-error',
		'editor', 'editor-path', 'editor-pos', 'editor-gutter', 'line-marks',
		'build-form', 'dockerfile-select', 'target-input', 'stage-names', 'build-args',
		'arg-add', 'build-button', 'build-output', 'build-status', 'build-duration',
		'build-progress', 'build-progress-text', 'connection', 'build-error',
		'build-error-message', 'build-error-line', 'build-warnings-box', 'build-warnings',
		'build-stages', 'scenario-apply', 'scenario-done', 'sizes', 'size-chart',
		'size-readout', 'sizes-status', 'image-card',
	].forEach((id) => {
		els[id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = byTestId(id);
	});

	// ---- The build context -------------------------------------------------

	const files = new Map(Object.entries(initial.files));
	let dockerfile = initial.dockerfile; // the file built as the Dockerfile
	let openPath = initial.dockerfile; // the file in the editor

	function sortedPaths() {
		return Array.from(files.keys()).sort((a, b) => {
			if ((a === dockerfile) !== (b === dockerfile)) {
				return a === dockerfile ? -1 : 1;
			}
			return a < b ? -1 : a > b ? 1 : 0;
		});
	}

	function renderFiles() {
		els.fileList.replaceChildren(...sortedPaths().map(fileRow));
		const select = els.dockerfileSelect;
		select.replaceChildren(...sortedPaths().map(
			(path) => new Option(path, path, false, path === dockerfile)));
		if (!files.has(dockerfile)) {
			select.prepend(new Option(`${dockerfile} (missing)`, dockerfile, true, true));
		}
	}

	function fileRow(path) {
		const li = fromTemplate('tpl-file-row');
		li.dataset.path = path;
		const open = byTestId('file-open', li);
		open.textContent = path;
		open.setAttribute('aria-current', String(path === openPath));
		byTestId('file-rename', li).setAttribute('aria-label', `Rename ${path}`);
		byTestId('file-delete', li).setAttribute('aria-label', `Delete ${path}`);
		const input = byTestId('file-rename-input', li);
		input.value = path;
		input.setAttribute('aria-label', `New name for ${path}`);
		return li;
	}

	// pathProblem says what is wrong with a new file name, or '' if nothing.
	// The server checks again; this only answers sooner.
	function pathProblem(path, renaming) {
		if (path === '') {
			return 'Give the file a name.';
		}
		if (path.startsWith('/')) {
			return 'Use a path relative to the context, without a leading /.';
		}
		if (/[\\\u0000-\u001f\u007f]/.test(path)) {
			return 'Use / between folders, and no control characters.';
		}
		if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
			return 'A path may not have empty, "." or ".." parts.';
		}
		for (const other of files.keys()) {
			if (other === renaming) {
				continue;
			}
			if (other === path) {
				return `${path} is already in the context.`;
			}
			if (other.startsWith(path + '/') || path.startsWith(other + '/')) {
				return `${path} and ${other} cannot both exist: one would be a folder.`;
			}
		}
		return '';
	}

	function openFile(path) {
		openPath = path;
		// With every file deleted there is nothing to edit.
		els.editor.disabled = !files.has(path);
		for (const button of els.fileList.querySelectorAll('[data-testid="file-open"]')) {
			const row = button.closest('[data-testid="file"]');
			button.setAttribute('aria-current', String(row.dataset.path === path));
		}
		els.editor.value = files.get(path) ?? '';
		els.editorPath.textContent = files.has(path) ? path : 'No file open';
		els.editor.scrollTop = 0;
		els.editor.scrollLeft = 0;
		renderGutter();
		syncScroll();
	}

	function addFile(path) {
		files.set(path, '');
		renderFiles();
		openFile(path);
		els.editor.focus();
	}

	function renameFile(from, to) {
		const text = files.get(from);
		files.delete(from);
		files.set(to, text);
		if (dockerfile === from) {
			dockerfile = to;
		}
		if (openPath === from) {
			openPath = to;
		}
		renderFiles();
		openFile(openPath);
		focusFile(to);
	}

	// focusFile keeps the keyboard in the file list after it is redrawn.
	function focusFile(path) {
		const row = els.fileList.querySelector(`[data-path="${CSS.escape(path)}"]`);
		(row ? byTestId('file-open', row) : els.fileAddInput).focus();
	}

	function deleteFile(path) {
		const order = sortedPaths();
		const next = order[order.indexOf(path) + 1] ?? order[order.indexOf(path) - 1];
		files.delete(path);
		if (openPath === path) {
			openPath = files.has(dockerfile) ? dockerfile : sortedPaths()[0] ?? '';
		}
		renderFiles();
		openFile(openPath);
		focusFile(next ?? '');
	}

	els.fileAddForm.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const path = els.fileAddInput.value.trim();
		const problem = pathProblem(path, null);
		els.fileError.textContent = problem;
		els.fileError.hidden = problem === '';
		if (problem === '') {
			els.fileAddInput.value = '';
			addFile(path);
		}
	});

	els.fileList.addEventListener('click', (ev) => {
		const button = ev.target.closest('button');
		const row = button && button.closest('[data-testid="file"]');
		if (!row) {
			return;
		}
		switch (button.dataset.testid) {
			case 'file-open':
				openFile(row.dataset.path);
				break;
			case 'file-rename':
				startRename(row);
				break;
			case 'file-delete':
				deleteFile(row.dataset.path);
				break;
			case 'file-rename-cancel':
				renderFiles();
				focusFile(row.dataset.path);
				break;
		}
	});

	function startRename(row) {
		const form = byTestId('file-rename-form', row);
		for (const button of row.querySelectorAll(':scope > button')) {
			button.hidden = true;
		}
		form.hidden = false;
		const input = byTestId('file-rename-input', row);
		input.focus();
		const slash = input.value.lastIndexOf('/');
		const dot = input.value.lastIndexOf('.');
		input.setSelectionRange(slash + 1, dot > slash + 1 ? dot : input.value.length);
	}

	els.fileList.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const row = ev.target.closest('[data-testid="file"]');
		const from = row.dataset.path;
		const to = byTestId('file-rename-input', row).value.trim();
		if (to === from) {
			renderFiles();
			focusFile(from);
			return;
		}
		const problem = pathProblem(to, from);
		els.fileError.textContent = problem;
		els.fileError.hidden = problem === '';
		if (problem === '') {
			renameFile(from, to);
		}
	});

	els.fileList.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape' && ev.target.matches('[data-testid="file-rename-input"]')) {
			const path = ev.target.closest('[data-testid="file"]').dataset.path;
			renderFiles();
			focusFile(path);
		}
	});

	els.dockerfileSelect.addEventListener('change', () => {
		dockerfile = els.dockerfileSelect.value;
		renderFiles();
		updateStageNames();
	});

	// ---- The editor: a textarea, a gutter of line numbers, line marks -----

	function lineHeight() {
		return parseFloat(getComputedStyle(els.editor).lineHeight) || 20;
	}

	function renderGutter() {
		const lines = els.editor.value.split('\n').length;
		const gutter = els.editorGutter;
		while (gutter.childElementCount > lines) {
			gutter.lastElementChild.remove();
		}
		while (gutter.childElementCount < lines) {
			const div = document.createElement('div');
			div.className = 'gutter-line';
			div.textContent = String(gutter.childElementCount + 1);
			gutter.append(div);
		}
		renderMarks();
	}

	function syncScroll() {
		const shift = `translateY(${-els.editor.scrollTop}px)`;
		els.editorGutter.style.transform = shift;
		els.lineMarks.style.transform = shift;
	}

	function showCaret() {
		const before = els.editor.value.slice(0, els.editor.selectionStart);
		const line = before.split('\n').length;
		const col = before.length - before.lastIndexOf('\n');
		els.editorPos.textContent = `Ln ${line}, Col ${col}`;
	}

	els.editor.addEventListener('input', () => {
		files.set(openPath, els.editor.value);
		renderGutter();
		showCaret();
		if (openPath === dockerfile) {
			updateStageNames();
		}
	});
	els.editor.addEventListener('scroll', syncScroll);
	for (const type of ['keyup', 'click', 'focus']) {
		els.editor.addEventListener(type, showCaret);
	}
	// Ctrl+Enter (Cmd+Enter on a Mac) builds from wherever the person types.
	els.editor.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !els.buildButton.disabled) {
			ev.preventDefault();
			els.buildForm.requestSubmit();
		}
	});

	// Marks point at Dockerfile lines: the failure's and the warnings'. They
	// belong to the Dockerfile that was built, and show only while it is open.
	const marks = { file: '', lines: new Map() };

	function markLines(range, kind) {
		if (!range) {
			return;
		}
		for (let n = range.start; n <= range.end; n++) {
			if (marks.lines.get(n) !== 'error') {
				marks.lines.set(n, kind);
			}
		}
		renderMarks();
	}

	function renderMarks() {
		const gutter = els.editorGutter.children;
		for (const div of gutter) {
			div.classList.remove('is-error', 'is-warning');
		}
		const bands = [];
		if (openPath === marks.file) {
			const height = lineHeight();
			const pad = parseFloat(getComputedStyle(els.lineMarks).paddingTop) || 0;
			for (const [line, kind] of marks.lines) {
				if (gutter[line - 1]) {
					gutter[line - 1].classList.add(`is-${kind}`);
				}
				const band = document.createElement('div');
				band.className = `line-mark is-${kind}`;
				band.dataset.line = String(line);
				band.style.top = `${pad + (line - 1) * height}px`;
				bands.push(band);
			}
		}
		els.lineMarks.replaceChildren(...bands);
	}

	// jumpToLine shows a line of the built Dockerfile in the editor.
	function jumpToLine(line, focus) {
		const path = marks.file || dockerfile;
		if (!files.has(path)) {
			return;
		}
		if (openPath !== path) {
			openFile(path);
		}
		const text = els.editor.value;
		let pos = 0;
		for (let n = 1; n < line && pos !== -1; n++) {
			pos = text.indexOf('\n', pos) + 1 || -1;
		}
		const height = lineHeight();
		els.editor.scrollTop = Math.max(0, (line - 1) * height - els.editor.clientHeight / 3);
		syncScroll();
		if (focus && pos >= 0) {
			els.editor.focus({ preventScroll: true });
			els.editor.setSelectionRange(pos, pos);
		}
		const band = els.lineMarks.querySelector(`[data-line="${line}"]`);
		if (band) {
			band.classList.remove('is-flash');
			void band.offsetWidth; // restart the animation
			band.classList.add('is-flash');
		}
	}

	// ---- Build settings ------------------------------------------------------

	function updateStageNames() {
		const text = files.get(dockerfile) ?? '';
		const names = [];
		for (const m of text.matchAll(/^\s*FROM\s+(?:--\S+\s+)*\S+\s+AS\s+(\S+)/gim)) {
			names.push(m[1]);
		}
		els.stageNames.replaceChildren(...names.map((n) => new Option(n, n)));
	}

	function addArgRow() {
		const row = fromTemplate('tpl-arg-row');
		els.buildArgs.append(row);
		byTestId('arg-name', row).focus();
	}

	function readArgs() {
		const args = {};
		for (const row of els.buildArgs.querySelectorAll('[data-testid="arg-row"]')) {
			const name = byTestId('arg-name', row).value.trim();
			if (name !== '') {
				args[name] = byTestId('arg-value', row).value;
			}
		}
		return args;
	}

	els.argAdd.addEventListener('click', addArgRow);
	els.buildArgs.addEventListener('click', (ev) => {
		const button = ev.target.closest('[data-testid="arg-remove"]');
		if (button) {
			button.closest('[data-testid="arg-row"]').remove();
		}
	});

	// setArg gives a build arg a value, in its row or in a new one.
	function setArg(name, value) {
		let row = Array.from(els.buildArgs.querySelectorAll('[data-testid="arg-row"]'))
			.find((r) => byTestId('arg-name', r).value.trim() === name);
		if (!row) {
			row = fromTemplate('tpl-arg-row');
			byTestId('arg-name', row).value = name;
			els.buildArgs.append(row);
		}
		byTestId('arg-value', row).value = value;
	}

	// The scenario's edits rewrite files or set build args.
	if (els.scenarioApply && initial.scenario) {
		els.scenarioApply.addEventListener('click', () => {
			const changed = [];
			let firstFile = '';
			for (const edit of initial.scenario.edits) {
				if (edit.buildArgs) {
					for (const [name, value] of Object.entries(edit.buildArgs)) {
						setArg(name, value);
						changed.push(`build arg ${name} to ${value}`);
					}
					continue;
				}
				files.set(edit.path, edit.content ?? '');
				firstFile = firstFile || edit.path;
				changed.push(edit.path);
			}
			renderFiles();
			openFile(firstFile || openPath);
			els.scenarioDone.textContent =
				`Changed ${changed.join(', ')}. Build again and compare the steps.`;
			els.scenarioDone.hidden = false;
		});
	}

	// ---- The build's output ----------------------------------------------------

	const STATUS_TEXT = {
		idle: 'Not built yet',
		sending: 'Sending',
		queued: 'Queued',
		running: 'Running',
		succeeded: 'Succeeded',
		failed: 'Failed',
	};

	const ERROR_TITLE = {
		input: 'The server refused the build',
		dockerfile: 'The Dockerfile could not be read',
		step: 'A step failed',
		worker: 'The worker stopped',
		limit: 'The build hit a limit',
		internal: 'The build failed',
		connection: 'The connection to the build was lost',
	};

	// view is what the page shows of the current build.
	let view = null;

	// INTERNAL keys the section of the worker's own steps; stage names have
	// no spaces.
	const INTERNAL = ' internal';

	function newView() {
		return {
			stages: new Map(), // stage name -> <section>
			steps: new Map(), // step id -> <li>
			logs: new Map(), // step id -> chunks that came before their step
			startedAt: 0, // performance.now() when the build began to run
			ticker: 0,
			stageList: [], // the stages of the last stages event, in order
			sizes: new Map(), // stage name -> its stage.size entry
			image: null, // the final image's report card
			measuring: false, // the build succeeded and its sizes are on their way
		};
	}

	function resetOutput() {
		if (view) {
			clearInterval(view.ticker);
		}
		view = newView();
		els.buildStages.replaceChildren();
		els.sizeChart.replaceChildren();
		els.sizeReadout.textContent = '\u00a0';
		els.sizes.hidden = true;
		els.imageCard.hidden = true;
		els.buildWarnings.replaceChildren();
		els.buildWarningsBox.hidden = true;
		els.buildError.hidden = true;
		els.buildDuration.textContent = '';
		els.connection.hidden = true;
		setProgress({ done: 0, total: 0 });
		marks.file = dockerfile;
		marks.lines.clear();
		renderMarks();
	}

	function setStatus(status) {
		els.buildStatus.dataset.status = status;
		els.buildStatus.textContent = STATUS_TEXT[status] || status;
		if (status === 'running' && !view.startedAt) {
			view.startedAt = performance.now();
			view.ticker = setInterval(tick, 250);
		}
	}

	function setProgress(p) {
		els.buildProgress.max = Math.max(p.total, 1);
		els.buildProgress.value = p.done;
		els.buildProgressText.textContent = p.total > 0 ? `${p.done} / ${p.total} steps` : '';
	}

	// tick moves the clocks of the build and of its running steps.
	function tick() {
		const now = performance.now();
		els.buildDuration.textContent = formatMs(now - view.startedAt);
		for (const li of view.steps.values()) {
			if (li.dataset.state === 'running' && li.startedLocal) {
				byTestId('step-duration', li).textContent = formatMs(now - li.startedLocal);
			}
		}
	}

	function stageSection(name, internal) {
		let section = view.stages.get(name);
		if (section) {
			return section;
		}
		section = fromTemplate('tpl-stage');
		section.dataset.stage = name;
		// Steps have no stage name when the Dockerfile could not be planned.
		byTestId('stage-name', section).textContent =
			internal ? 'Preparing the build' : name || 'Dockerfile steps';
		if (internal) {
			section.classList.add('is-internal');
			section.dataset.index = '-1';
		} else {
			section.dataset.index = String(Number.MAX_SAFE_INTEGER);
		}
		view.stages.set(name, section);
		placeByIndex(els.buildStages, section);
		return section;
	}

	// placeByIndex inserts el among its siblings in order of data-index.
	function placeByIndex(parent, el) {
		const index = Number(el.dataset.index);
		for (const sibling of parent.children) {
			if (Number(sibling.dataset.index) > index) {
				parent.insertBefore(el, sibling);
				return;
			}
		}
		parent.append(el);
	}

	function putStage(stage) {
		const section = stageSection(stage.name, false);
		if (section.dataset.index !== String(stage.index)) {
			section.dataset.index = String(stage.index);
			placeByIndex(els.buildStages, section);
		}
		byTestId('stage-base', section).textContent = stage.base ? `FROM ${stage.base}` : '';
		byTestId('stage-skipped', section).hidden = !stage.skipped;
		section.classList.toggle('is-skipped', stage.skipped);
	}

	function putStep(step) {
		let li = view.steps.get(step.id);
		if (!li) {
			li = fromTemplate('tpl-step');
			li.dataset.stepId = step.id;
			li.dataset.index = String(step.internal ? view.steps.size : step.index);
			view.steps.set(step.id, li);
			const section = stageSection(step.internal ? INTERNAL : step.stage, step.internal);
			placeByIndex(byTestId('steps', section), li);
		}
		if (step.state === 'running' && li.dataset.state !== 'running') {
			li.startedLocal = performance.now();
		}
		li.dataset.state = step.state;
		li.dataset.cached = String(step.cached);
		byTestId('step-index', li).textContent = step.internal ? '' : `${step.index}/${step.total}`;
		byTestId('step-instruction', li).textContent = step.instruction;
		byTestId('step-cached', li).hidden = !step.cached;
		byTestId('step-state', li).textContent = step.state;

		const duration = byTestId('step-duration', li);
		if (step.state === 'done' || step.state === 'failed') {
			duration.textContent = formatMs(step.durationMs);
		} else if (step.state !== 'running') {
			duration.textContent = '';
		}

		const line = byTestId('step-line', li);
		if (step.line) {
			line.textContent = `Dockerfile ${formatLines(step.line)}`;
			line.dataset.line = String(step.line.start);
			line.hidden = false;
		}
		const error = byTestId('step-error', li);
		error.textContent = step.error || '';
		error.hidden = !step.error;
		if (step.state === 'failed') {
			li.querySelector('details').open = true;
		}

		const early = view.logs.get(step.id);
		if (early) {
			view.logs.delete(step.id);
			early.forEach((chunk) => appendLog(li, chunk));
		}
		li.step = step;
		showStepSize(li);
	}

	function addLog(chunk) {
		const li = view.steps.get(chunk.stepId);
		if (li) {
			appendLog(li, chunk);
			return;
		}
		const early = view.logs.get(chunk.stepId) || [];
		early.push(chunk);
		view.logs.set(chunk.stepId, early);
	}

	function appendLog(li, chunk) {
		const pre = byTestId('step-log', li);
		const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
		pre.hidden = false;
		byTestId('step-log-empty', li).hidden = true;
		if (chunk.stream === 'stderr') {
			const span = document.createElement('span');
			span.className = 'stderr';
			span.textContent = chunk.data;
			pre.append(span);
		} else {
			pre.append(chunk.data);
		}
		if (atBottom) {
			pre.scrollTop = pre.scrollHeight;
		}
	}

	function addWarning(w) {
		const li = fromTemplate('tpl-warning');
		byTestId('warning-rule', li).textContent = w.rule;
		byTestId('warning-message', li).textContent = w.message;
		if (w.line) {
			const button = byTestId('warning-line', li);
			button.textContent = formatLines(w.line);
			button.dataset.line = String(w.line.start);
			button.hidden = false;
		}
		els.buildWarnings.append(li);
		els.buildWarningsBox.hidden = false;
		markLines(w.line, 'warning');
	}

	function showFailure(err) {
		els.buildError.hidden = false;
		const title = ERROR_TITLE[err.kind] || ERROR_TITLE.internal;
		els.buildError.querySelector('strong').textContent = title;
		// Go errors start in lower case; the box reads as a sentence.
		const msg = err.message;
		els.buildErrorMessage.textContent = msg.charAt(0).toUpperCase() + msg.slice(1);
		const button = els.buildErrorLine;
		button.hidden = !err.line;
		if (err.line) {
			button.textContent = `Show Dockerfile ${formatLines(err.line)}`;
			button.dataset.line = String(err.line.start);
			markLines(err.line, 'error');
			jumpToLine(err.line.start, false);
		}
		const step = err.stepId && view.steps.get(err.stepId);
		if (step) {
			step.querySelector('details').open = true;
		}
	}

	// ---- Sizes ---------------------------------------------------------------

	// formatPercent rounds down, so that only a perfect score reads 100%.
	function formatPercent(p) {
		const tenths = Math.floor(p * 10 + 1e-9) / 10;
		return `${tenths.toFixed(1).replace(/\.0$/, '')}%`;
	}

	// sizeRow finds the row of a measured stage that a Dockerfile line
	// starts: the base's for the FROM line, else an instruction's.
	function sizeRow(stage, line) {
		const size = view.sizes.get(stage);
		return size && line ? size.rows.find((r) => r.line && r.line.start === line.start) : null;
	}

	function showStepSize(li) {
		const step = li.step;
		const cell = byTestId('step-size', li);
		const row = step && !step.internal ? sizeRow(step.stage, step.line) : null;
		if (!row) {
			clearBytes(cell);
			return;
		}
		showBytes(cell, row.sizeBytes, row.compressedBytes);
		if (row.base) {
			cell.title = `The base image's share: ${cell.title}`;
		}
	}

	function addStageSize(size) {
		view.sizes.set(size.name, size);
		const section = view.stages.get(size.name);
		if (section) {
			const el = byTestId('stage-size', section);
			showBytes(el, size.sizeBytes, size.compressedBytes);
			el.hidden = false;
		}
		for (const li of view.steps.values()) {
			if (li.step && li.step.stage === size.name) {
				showStepSize(li);
			}
		}
		renderChart();
	}

	// rowKind colours a row of a stage's bar by what made it.
	function rowKind(row) {
		if (row.base) {
			return 'base';
		}
		const word = row.instruction.split(/\s/, 1)[0].toUpperCase();
		if (word === 'RUN') {
			return 'run';
		}
		return word === 'COPY' || word === 'ADD' ? 'copy' : 'meta';
	}

	function rowLabel(row) {
		const where = row.line ? ` (${row.base ? 'base, ' : ''}${formatLines(row.line)})` : '';
		return `${row.instruction}${where}: ${formatBytes(row.sizeBytes)}, ` +
			`${formatBytes(row.compressedBytes)} compressed`;
	}

	// stageRole says what became of a stage: the image, left behind, or
	// never built.
	function stageRole(stage) {
		if (stage.skipped) {
			return 'skipped';
		}
		if (!view.image) {
			return '';
		}
		if (stage.name === view.image.stage) {
			return 'shipped';
		}
		return view.image.keptOut.some((k) => k.name === stage.name) ? 'kept out' : '';
	}

	// renderChart draws a bar per stage, all on the scale of the biggest
	// measured one. It redraws everything on each size event; those come
	// at the end of a build, a handful at most.
	function renderChart() {
		els.sizes.hidden = view.sizes.size === 0 && !view.measuring;
		els.sizesStatus.hidden = !view.measuring;
		if (els.sizes.hidden) {
			return;
		}
		const open = new Set(Array.from(
			els.sizeChart.querySelectorAll('details[open]'),
			(d) => d.closest('[data-stage]').dataset.stage));
		const scale = Math.max(1, ...Array.from(view.sizes.values(), (s) => s.sizeBytes));
		let stages = view.stageList;
		if (stages.length === 0) {
			stages = Array.from(view.sizes.keys(), (name) => ({ name, skipped: false }));
		}
		els.sizeChart.replaceChildren(...stages.map((stage) => {
			const li = sizeStage(stage, view.sizes.get(stage.name), scale);
			const details = li.querySelector('details');
			if (details && open.has(stage.name)) {
				details.open = true;
			}
			return li;
		}));
	}

	function sizeStage(stage, size, scale) {
		const li = fromTemplate('tpl-size-stage');
		li.dataset.stage = stage.name;
		byTestId('size-stage-name', li).textContent = stage.name;
		const role = stageRole(stage);
		const badge = byTestId('size-stage-role', li);
		if (role !== '') {
			badge.textContent = role;
			badge.classList.add(`badge-${role.replace(' ', '-')}`);
			badge.hidden = false;
		}
		li.dataset.role = role;

		const total = byTestId('size-stage-total', li);
		if (!size) {
			li.querySelector('svg').remove();
			li.querySelector('details').remove();
			li.classList.add('is-unmeasured');
			total.textContent = stage.skipped ? 'not built, no size' :
				view.measuring ? 'measuring…' : 'not measured';
			return li;
		}
		showBytes(total, size.sizeBytes, size.compressedBytes);

		const bar = byTestId('size-bar', li);
		bar.setAttribute('aria-label', `Stage ${stage.name}: ${formatBytes(size.sizeBytes)}, ` +
			`${formatBytes(size.compressedBytes)} compressed, ${size.layers} layers`);
		byTestId('size-rows-caption', li).textContent = `What each part of ${stage.name} weighs`;
		const body = byTestId('size-rows', li);
		let x = 0;
		for (const row of size.rows) {
			const kind = rowKind(row);
			const label = rowLabel(row);
			const width = (row.sizeBytes / scale) * 1000;
			if (row.sizeBytes > 0) {
				bar.append(segment(x, width, kind, label));
			}
			x += width;
			body.append(sizeTableRow(row, kind));
		}
		return li;
	}

	// segment is one row's rectangle in a bar. A row too thin to see is
	// drawn a hair wide, so that it can still be pointed at.
	function segment(x, width, kind, label) {
		const rect = document.getElementById('tpl-size-segment')
			.content.querySelector('rect').cloneNode(true);
		rect.setAttribute('x', x.toFixed(2));
		rect.setAttribute('width', Math.max(width, 2).toFixed(2));
		rect.classList.add(`kind-${kind}`);
		rect.setAttribute('aria-label', label);
		rect.querySelector('title').textContent = label;
		return rect;
	}

	function sizeTableRow(row, kind) {
		const tr = fromTemplate('tpl-size-row');
		tr.querySelector('.swatch').classList.add(`kind-${kind}`);
		tr.classList.toggle('is-empty', row.sizeBytes === 0);
		byTestId('size-row-instruction', tr).textContent = row.instruction;
		byTestId('size-row-line', tr).textContent = row.line ?
			(row.line.start === row.line.end ? `${row.line.start}` :
				`${row.line.start}–${row.line.end}`) : '';
		showBytes(byTestId('size-row-size', tr), row.sizeBytes);
		showBytes(byTestId('size-row-compressed', tr), row.compressedBytes);
		return tr;
	}

	// The readout under the chart repeats a segment's title for whoever
	// points at it or reaches it with the keyboard.
	for (const type of ['mouseover', 'focusin']) {
		els.sizeChart.addEventListener(type, (ev) => {
			const seg = ev.target.closest('[data-testid="size-segment"]');
			if (seg) {
				els.sizeReadout.textContent = seg.getAttribute('aria-label');
			}
		});
	}

	// formatExec writes an exec-form command as a Dockerfile would.
	function formatExec(args) {
		return args && args.length > 0 ? JSON.stringify(args) : '';
	}

	function formatHealthcheck(test) {
		if (test[0] === 'CMD-SHELL') {
			return test.slice(1).join(' ');
		}
		return formatExec(test[0] === 'CMD' ? test.slice(1) : test);
	}

	// fillChips lists short values, or says there are none.
	function fillChips(ul, values, none) {
		const items = (values || []).map((v) => {
			const li = fromTemplate('tpl-chip');
			li.querySelector('code').textContent = v;
			return li;
		});
		if (items.length === 0) {
			const li = fromTemplate('tpl-chip');
			li.replaceChildren(none);
			li.classList.add('is-none');
			items.push(li);
		}
		ul.replaceChildren(...items);
	}

	// setValue writes a config value, or a muted note when it is unset.
	function setValue(el, value, unset) {
		el.textContent = value || unset;
		el.classList.toggle('is-unset', !value);
	}

	function showImage(img) {
		view.image = img;
		const card = els.imageCard;
		const part = (id) => byTestId(id, card);
		part('image-stage').textContent = img.stage;
		showBytes(part('image-size'), img.sizeBytes);
		showBytes(part('image-compressed'), img.compressedBytes);
		part('image-layers').textContent = String(img.layers);
		part('image-efficiency').textContent = formatPercent(img.efficiencyPercent);
		part('image-efficiency').title = 'Of all the bytes the layers write, the share ' +
			'that no later layer deletes or replaces';

		part('image-root-warning').hidden = !img.runsAsRoot;
		part('image-healthcheck-missing').hidden = Boolean(img.healthcheck);
		setValue(part('image-base'), img.base, 'none');
		const user = part('image-user');
		setValue(user, img.user, 'root (no USER set)');
		user.classList.toggle('is-warning', img.runsAsRoot);
		fillChips(part('image-ports'), img.exposedPorts, 'none');
		const health = part('image-healthcheck');
		setValue(health, img.healthcheck ? formatHealthcheck(img.healthcheck) : '', 'none');
		health.classList.toggle('is-warning', !img.healthcheck);
		setValue(part('image-entrypoint'), formatExec(img.entrypoint), 'not set');
		setValue(part('image-cmd'), formatExec(img.cmd), 'not set');
		setValue(part('image-workdir'), img.workingDir, '/ (not set)');
		fillChips(part('image-env'), img.envNames, 'none');

		showWaste(card, img);
		showKeptOut(card, img);
		card.hidden = false;
		view.measuring = false; // the card is the last of the sizes
		renderChart();
	}

	function showWaste(card, img) {
		showBytes(byTestId('image-wasted', card), img.wastedBytes);
		byTestId('image-wasted-note', card).textContent = img.wastedBytes === 0 ?
			'wasted: no layer deletes or replaces what an earlier one wrote.' :
			'wasted in files that a later layer deletes or replaces: no container ' +
			'sees them, yet every pull downloads them.';
		const rows = (img.wastedFiles || []).map((f) => {
			const tr = fromTemplate('tpl-wasted-file');
			byTestId('wasted-file-path', tr).textContent = f.path;
			showBytes(byTestId('wasted-file-size', tr), f.wastedBytes);
			byTestId('wasted-file-layers', tr).textContent = String(f.layers);
			return tr;
		});
		byTestId('wasted-files', card).replaceChildren(...rows);
		byTestId('wasted-files-table', card).hidden = rows.length === 0;
	}

	function showKeptOut(card, img) {
		const kept = img.keptOut || [];
		showBytes(byTestId('image-saved', card), img.savedBytes);
		let note;
		if (kept.length === 0) {
			note = 'saved: the image is the only stage the build needed, so all it ' +
				'used ships.';
		} else if (img.savedBytes === 0) {
			note = 'saved: no stage left behind weighs more than the image.';
		} else {
			const biggest = kept.reduce((a, b) => (b.sizeBytes > a.sizeBytes ? b : a));
			note = `saved: the biggest stage, ${biggest.name}, weighs ` +
				`${formatBytes(biggest.sizeBytes)}; the image ${formatBytes(img.sizeBytes)}. ` +
				'Stages built but not shipped:';
		}
		byTestId('image-saved-note', card).textContent = note;
		byTestId('kept-out', card).replaceChildren(...kept.map((k) => {
			const li = fromTemplate('tpl-kept-out');
			byTestId('kept-out-name', li).textContent = k.name;
			showBytes(byTestId('kept-out-size', li), k.sizeBytes, k.compressedBytes);
			return li;
		}));
	}

	// finish shows how the build ended. A successful build's stream goes on
	// with the sizes of its images.
	function finish(result) {
		clearInterval(view.ticker);
		view.measuring = result.status === 'succeeded';
		renderChart();
		setStatus(result.status);
		els.buildDuration.textContent = formatMs(result.durationMs);
		els.connection.hidden = true;
		if (result.error) {
			showFailure(result.error);
		}
		els.buildButton.disabled = false;
	}

	// streamEnded is called when the server has sent the whole stream. A
	// stage still without a size by then was not measured.
	function streamEnded() {
		if (view.measuring) {
			view.measuring = false;
			renderChart();
		}
	}

	function apply(ev) {
		switch (ev.type) {
			case 'status':
				setStatus(ev.status);
				break;
			case 'stages':
				ev.stages.forEach(putStage);
				view.stageList = ev.stages;
				renderChart();
				break;
			case 'step.started':
			case 'step.completed':
			case 'step.cached':
			case 'step.failed':
				putStep(ev.step);
				break;
			case 'log':
				addLog(ev.log);
				break;
			case 'warning':
				addWarning(ev.warning);
				break;
			case 'progress':
				setProgress(ev.progress);
				break;
			case 'stage.size':
				addStageSize(ev.size);
				break;
			case 'image':
				showImage(ev.image);
				break;
			case 'result':
				finish(ev.result);
				break;
		}
	}

	els.buildOutput.addEventListener('click', (ev) => {
		const link = ev.target.closest('.line-link');
		if (link && link.dataset.line) {
			jumpToLine(Number(link.dataset.line), true);
		}
	});

	// ---- Talking to the server ---------------------------------------------

	let stream = null; // the current build's event stream
	let buildId = '';

	// followBuild applies a build's events as they come, through dropped
	// connections.
	function followBuild(path) {
		return follow(path, {
			event: apply,
			ended: streamEnded,
			connected: () => {
				els.connection.hidden = true;
			},
			retrying: () => {
				els.connection.textContent = 'The connection dropped; reconnecting…';
				els.connection.hidden = false;
			},
			gaveUp: (result) => {
				els.connection.hidden = true;
				if (result) {
					// The build has ended as shown; only its sizes are lost.
					streamEnded();
					return;
				}
				clearInterval(view.ticker);
				setStatus('failed');
				showFailure({
					kind: 'connection',
					message: 'The server stopped answering. Press Build to try again.',
				});
				els.buildButton.disabled = false;
			},
		});
	}

	async function startBuild() {
		if (stream) {
			stream.stop();
			stream = null;
			buildId = '';
		}
		resetOutput();
		setStatus('sending');
		els.buildButton.disabled = true;

		const body = {
			files: Object.fromEntries(files),
			dockerfile,
			target: els.targetInput.value.trim(),
			buildArgs: readArgs(),
		};
		let answer;
		try {
			const res = await fetch('/api/builds', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify(body),
			});
			answer = await res.json().catch(() => ({}));
			if (!res.ok) {
				const message = answer.error || `The server answered ${res.status}.`;
				const kind = res.status < 500 ? 'input' : 'internal';
				throw Object.assign(new Error(message), { kind });
			}
		} catch (err) {
			setStatus('failed');
			showFailure({ kind: err.kind || 'connection', message: err.message });
			els.buildButton.disabled = false;
			return;
		}
		buildId = answer.id;
		stream = followBuild(answer.events);
		// On a narrow screen the output sits below the lesson; bring it up.
		if (els.buildOutput.getBoundingClientRect().top > window.innerHeight) {
			els.buildOutput.scrollIntoView({ block: 'start' });
		}
	}

	els.buildForm.addEventListener('submit', (ev) => {
		ev.preventDefault();
		startBuild();
	});

	// The browser tests read the counters and drop the socket on purpose.
	window.layerlab = {
		stats: () => ({
			events: stream ? stream.events : 0,
			repeats: stream ? stream.repeats : 0,
			connects: stream ? stream.connects : 0,
			buildId,
			lastSeq: stream ? stream.lastSeq : 0,
			ended: stream ? stream.done : false,
		}),
		dropConnection: () => {
			if (stream) {
				stream.drop();
			}
		},
	};

	renderFiles();
	openFile(openPath);
	updateStageNames();
})();
