// compare.js drives the compare page. It reads the variants and the changes
// the person set up, posts them to POST /api/runs and follows the run's
// WebSocket stream: each variant's cold build and rebuild step by step as the
// worker runs them, then each variant's figures and the reason every step of
// its rebuild ran again or stayed cached, then the comparison of them all.
// New rows come from the page's <template> elements, so this file never
// writes HTML; kit.js, loaded first, brings the shared helpers.
(function () {
	'use strict';

	const dataEl = document.getElementById('compare-data');
	if (!dataEl) {
		return;
	}
	const initial = JSON.parse(dataEl.textContent);
	const {
		byTestId, allByTestId, fromTemplate, formatMs, formatLines, formatBytes, showBytes, follow,
	} = window.layerlabKit;

	const els = {};
	[
		'run-form', 'run-button', 'run-form-error', 'changes', 'change-list', 'changes-empty',
		'run', 'run-status', 'run-duration', 'run-now', 'run-progress', 'run-progress-text',
		'connection', 'run-error', 'run-error-title', 'run-error-message', 'results',
		'summary-head', 'time-bars', 'size-bars', 'run-variants', 'rows-panel', 'rows-head', 'rows',
	].forEach((id) => {
		els[id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = byTestId(id);
	});

	const variants = new Map(initial.variants.map((v) => [v.name, v]));
	const withVariant = (testid, name) =>
		document.querySelector(`[data-testid="${testid}"][data-variant="${CSS.escape(name)}"]`);

	// ---- The changes ----------------------------------------------------------

	function updateEmpty() {
		els.changesEmpty.hidden = els.changeList.childElementCount > 0;
	}

	function addChange(kind) {
		const li = fromTemplate(`tpl-change-${kind}`);
		els.changeList.append(li);
		updateEmpty();
		li.querySelector('input').focus();
	}

	els.changes.addEventListener('click', (ev) => {
		const button = ev.target.closest('button');
		if (!button) {
			return;
		}
		if (button.dataset.testid === 'change-add') {
			addChange(button.dataset.kind);
		} else if (button.dataset.testid === 'change-remove') {
			const li = button.closest('[data-testid="change"]');
			const next = li.nextElementSibling || li.previousElementSibling;
			li.remove();
			updateEmpty();
			(next ? next.querySelector('input') : byTestId('change-add', els.changes)).focus();
		}
	});

	// Naming a file of the context in a new file change starts its content
	// from the file as it is, so that the change is an edit, not a retype.
	els.changeList.addEventListener('change', (ev) => {
		if (ev.target.dataset.testid !== 'change-path') {
			return;
		}
		const li = ev.target.closest('[data-testid="change"]');
		const content = byTestId('change-content', li);
		const path = ev.target.value.trim();
		const owner = Array.from(variants.values()).find((v) => path in v.files);
		if (content && content.value === '' && owner) {
			content.value = owner.files[path];
		}
	});

	// readChanges turns the change rows into the run's changes, in order;
	// it throws with a message when a row is incomplete.
	function readChanges() {
		const changes = [];
		for (const li of els.changeList.children) {
			const field = (id) => byTestId(id, li).value;
			const path = () => field('change-path').trim();
			switch (li.dataset.kind) {
				case 'file':
					if (path() === '') {
						throw new Error('Name the file whose content the change sets.');
					}
					changes.push({ path: path(), content: field('change-content') });
					break;
				case 'delete':
					if (path() === '') {
						throw new Error('Name the file the change deletes.');
					}
					changes.push({ delete: path() });
					break;
				case 'arg': {
					const name = field('change-arg-name').trim();
					if (name === '') {
						throw new Error('Name the build arg the change sets.');
					}
					changes.push({ buildArgs: { [name]: field('change-arg-value') } });
					break;
				}
				case 'target':
					changes.push({ target: field('change-target').trim() });
					break;
			}
		}
		return changes;
	}

	// readVariants gives the ticked variants as the run's variants, each with
	// the Dockerfile as it stands in its editor.
	function readVariants() {
		const out = [];
		for (const setup of allByTestId('variant-setup')) {
			if (!byTestId('variant-include', setup).checked) {
				continue;
			}
			const v = variants.get(setup.dataset.variant);
			const dockerfile = byTestId('variant-dockerfile', setup).value;
			out.push({
				name: v.name,
				files: { ...v.files, [v.dockerfile]: dockerfile },
				dockerfile: v.dockerfile,
				target: v.target,
				buildArgs: v.buildArgs,
			});
		}
		if (out.length === 0) {
			throw new Error('Tick at least one variant to run.');
		}
		if (out.length > 4) {
			throw new Error('A run takes at most 4 variants; untick some.');
		}
		return out;
	}

	// dockerfileAfter is the text of a variant's Dockerfile once the changes
	// are made, as its rebuild reads it.
	function dockerfileAfter(v, changes) {
		let text = v.files[v.dockerfile];
		for (const c of changes) {
			if (c.path === v.dockerfile) {
				text = c.content;
			} else if (c.delete === v.dockerfile) {
				text = '';
			}
		}
		return text;
	}

	// ---- The run as it goes ------------------------------------------------

	const STATUS_TEXT = {
		idle: 'Not run yet',
		sending: 'Sending',
		queued: 'Queued',
		running: 'Running',
		succeeded: 'Succeeded',
		failed: 'Failed',
	};

	const PHASE_TEXT = { cold: 'cold build', rebuild: 'rebuild after the change' };

	// What each kind of reason means, in a few words; the reason's own text
	// says it in full.
	const KIND_TEXT = {
		files: 'a file it copies changed',
		'earlier-step': 'an earlier step ran again',
		'build-arg': 'a build arg changed',
		instruction: 'the instruction changed',
		base: 'the base changed',
		'source-stage': 'the stage it copies from changed',
		'new-step': 'new in the rebuild',
		unchanged: 'nothing it depends on changed',
		'cache-gone': 'its cache was gone',
		'same-key': 'same cache key',
	};

	// run is what the page shows of the current run.
	let run = null;

	function newRun(list) {
		return {
			names: list.map((v) => v.name), // the variants, in order
			dockerfiles: new Map(), // variant -> its Dockerfile's text on the rebuild
			phases: new Map(), // "variant/phase" -> what phaseOf keeps of that build
			columns: new Map(), // variant -> its figures, as the variants finish
			failed: new Set(), // variants whose builds did not both succeed
			buildsDone: 0,
			startedAt: 0,
			ticker: 0,
		};
	}

	function title(name) {
		const v = variants.get(name);
		return v ? v.title : name;
	}

	function resetRun(list, changes) {
		if (run) {
			clearInterval(run.ticker);
		}
		run = newRun(list);
		for (const v of list) {
			run.dockerfiles.set(v.name, dockerfileAfter(variants.get(v.name), changes));
		}
		els.run.hidden = false;
		els.results.hidden = false;
		els.runVariants.hidden = false;
		els.rowsPanel.hidden = true;
		els.runError.hidden = true;
		els.connection.hidden = true;
		els.runDuration.textContent = '';
		els.runNow.textContent = '';
		for (const card of allByTestId('run-variant')) {
			resetCard(card, run.names.includes(card.dataset.variant));
		}
		setProgress();
		renderFigures();
		els.rows.replaceChildren();
	}

	function resetCard(card, shown) {
		card.hidden = !shown;
		setBadge(byTestId('variant-status', card), 'idle', 'waiting');
		for (const section of allByTestId('phase', card)) {
			section.dataset.status = 'idle';
			byTestId('phase-summary', section).textContent = '';
			byTestId('phase-steps', section).replaceChildren();
			byTestId('phase-warnings', section).replaceChildren();
		}
		byTestId('marked', card).hidden = true;
		byTestId('code-listing', card).replaceChildren();
	}

	function setBadge(el, status, text) {
		el.dataset.status = status;
		el.textContent = text;
	}

	function setStatus(status) {
		setBadge(els.runStatus, status, STATUS_TEXT[status] || status);
		if (status === 'running' && !run.startedAt) {
			run.startedAt = performance.now();
			run.ticker = setInterval(() => {
				els.runDuration.textContent = formatMs(performance.now() - run.startedAt);
			}, 250);
		}
	}

	function setProgress() {
		const total = run.names.length * 2;
		els.runProgress.max = total;
		els.runProgress.value = run.buildsDone;
		els.runProgressText.textContent = `${run.buildsDone} / ${total} builds`;
	}

	// phaseOf finds the state of a variant's build in a phase.
	function phaseOf(ref) {
		const key = `${ref.variant}/${ref.phase}`;
		let ph = run.phases.get(key);
		if (!ph) {
			const card = withVariant('run-variant', ref.variant);
			ph = {
				ref,
				card,
				section: card.querySelector(`[data-testid="phase"][data-phase="${ref.phase}"]`),
				steps: new Map(), // step id -> <li>
				progress: null, // the worker's last count of the steps
				result: null,
			};
			run.phases.set(key, ph);
		}
		return ph;
	}

	// showCurrent says which build runs now, and where it stands.
	function showCurrent(ph) {
		const { variant, phase } = ph.ref;
		const n = run.names.indexOf(variant) * 2 + (phase === 'cold' ? 1 : 2);
		const where = `${title(variant)}, ${PHASE_TEXT[phase]}`;
		const now = ph.result ? `Weighing the image of ${where}.` :
			`Building ${where}: build ${n} of ${run.names.length * 2}.`;
		// The line is a live region: rewrite it only when it says something new.
		if (els.runNow.textContent !== now) {
			els.runNow.textContent = now;
		}
		setBadge(byTestId('variant-status', ph.card), 'running', PHASE_TEXT[phase]);
	}

	function applyBuild(ref, ev) {
		const ph = phaseOf(ref);
		switch (ev.type) {
			case 'status':
				ph.section.dataset.status = ev.status;
				byTestId('phase-summary', ph.section).textContent = ev.status === 'queued' ?
					`queued${ev.position ? ` (position ${ev.position})` : ''}` : 'preparing…';
				break;
			case 'step.started':
			case 'step.completed':
			case 'step.cached':
			case 'step.failed':
				if (!ev.step.internal) {
					putStep(ph, ev.step);
					phaseProgress(ph);
				}
				break;
			case 'progress':
				ph.progress = ev.progress;
				phaseProgress(ph);
				break;
			case 'warning':
				addWarning(ph, ev.warning);
				break;
			case 'build.result':
				finishPhase(ph, ev.result);
				break;
		}
		showCurrent(ph);
	}

	// phaseProgress says how far a build is: the worker's count of the steps
	// it planned once it has sent one, else the steps seen so far.
	function phaseProgress(ph) {
		if (ph.result) {
			return;
		}
		const steps = Array.from(ph.steps.values());
		const { done, total } = ph.progress || {
			done: steps.filter((li) => li.dataset.state !== 'running').length,
			total: steps.length,
		};
		byTestId('phase-summary', ph.section).textContent = `${done} of ${total} steps done`;
	}

	// putStep shows a step as it is now, in Dockerfile order.
	function putStep(ph, step) {
		let li = ph.steps.get(step.id);
		if (!li) {
			li = fromTemplate('tpl-run-step');
			li.dataset.stepId = step.id;
			li.dataset.index = String(step.line ? step.line.start : Number.MAX_SAFE_INTEGER);
			ph.steps.set(step.id, li);
			placeByIndex(byTestId('phase-steps', ph.section), li);
		}
		fillStep(li, step, ph.ref.phase);
	}

	function fillStep(li, step, phase) {
		// On a rebuild, a FROM whose base did not change counts as cached,
		// though the worker reports it run: it only looked the image up.
		const state = step.state === 'done' && step.cached ? 'cached' : step.state;
		li.dataset.state = state;
		li.dataset.cached = String(step.cached);
		byTestId('run-step-instruction', li).textContent = step.instruction;
		const outcome = byTestId('run-step-outcome', li);
		outcome.textContent = {
			running: 'running…',
			cached: 'cached',
			done: phase === 'rebuild' ? 'ran again' : 'ran',
			failed: 'failed',
		}[state] || '';
		byTestId('run-step-duration', li).textContent =
			state === 'done' || state === 'failed' ? formatMs(step.durationMs) : '';
		const error = byTestId('run-step-error', li);
		error.textContent = step.error || '';
		error.hidden = !step.error;
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

	function addWarning(ph, w) {
		const li = fromTemplate('tpl-warning');
		byTestId('warning-rule', li).textContent = w.rule;
		byTestId('warning-message', li).textContent =
			w.line ? `${w.message} (${formatLines(w.line)})` : w.message;
		byTestId('phase-warnings', ph.section).append(li);
	}

	function finishPhase(ph, result) {
		ph.result = result;
		ph.section.dataset.status = result.status;
		const steps = Array.from(ph.steps.values());
		const ran = steps.filter((li) => li.dataset.cached !== 'true').length;
		byTestId('phase-summary', ph.section).textContent = result.status === 'succeeded' ?
			`${ran} of ${steps.length} steps ran · ${formatMs(result.durationMs)}` :
			`failed after ${formatMs(result.durationMs)}`;
		run.buildsDone++;
		setProgress();
	}

	// ---- A variant done: its reasons and its figures ----------------------

	function showVariant(v) {
		const card = withVariant('run-variant', v.name);
		const failed = v.builds.some((b) => b.status !== 'succeeded') || v.builds.length < 2;
		setBadge(byTestId('variant-status', card), failed ? 'failed' : 'succeeded',
			failed ? 'failed' : 'done');
		for (const b of v.builds) {
			const ph = phaseOf({ variant: v.name, phase: b.phase, build: b.id });
			const list = byTestId('phase-steps', ph.section);
			ph.steps.clear();
			list.replaceChildren(...inLineOrder(b.steps).map((step) => {
				const li = fromTemplate('tpl-run-step');
				li.dataset.stepId = step.id;
				fillStep(li, step, b.phase);
				showReason(li, step);
				ph.steps.set(step.id, li);
				return li;
			}));
			if (b.status === 'succeeded') {
				byTestId('phase-summary', ph.section).textContent =
					`${b.stepsRun} of ${b.stepsTotal} steps ran · ${formatMs(b.durationMs)}`;
			}
			if (b.phase === 'rebuild' && b.status === 'succeeded') {
				showMarked(card, run.dockerfiles.get(v.name) || '', b.steps);
			}
		}
		if (failed) {
			run.failed.add(v.name);
		} else {
			run.columns.set(v.name, columnOf(v));
			renderFigures();
		}
	}

	// inLineOrder sorts steps as the Dockerfile has them, as the live list
	// does; the worker announces them in an order of its own.
	function inLineOrder(steps) {
		const start = (s) => (s.line ? s.line.start : Number.MAX_SAFE_INTEGER);
		return steps.slice().sort((a, b) => start(a) - start(b));
	}

	function showReason(li, step) {
		const reason = byTestId('run-step-reason', li);
		if (step.reason) {
			reason.textContent = reasonText(step.reason);
			reason.hidden = false;
			li.dataset.kind = step.reason.kind;
		}
		byTestId('run-step-first-miss', li).hidden = !step.firstMiss;
		li.classList.toggle('is-first-miss', Boolean(step.firstMiss));
	}

	// reasonText is a reason as a sentence.
	function reasonText(reason) {
		const text = reason.text;
		return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
	}

	// showMarked lists the rebuild's Dockerfile with every step's lines
	// marked as cached or ran again, and the first miss above them all.
	function showMarked(card, text, steps) {
		const lines = text.replace(/\n$/, '').split('\n');
		const marks = new Map();
		for (const step of steps) {
			if (!step.line) {
				continue;
			}
			const kind = step.firstMiss ? 'first' : step.cached ? 'cached' : 'rerun';
			for (let n = step.line.start; n <= step.line.end; n++) {
				if (marks.get(n) !== 'first') {
					marks.set(n, kind);
				}
			}
		}
		const first = steps.find((s) => s.firstMiss && s.line);
		byTestId('code-listing', card).replaceChildren(...lines.map((line, i) => {
			const li = fromTemplate('tpl-code-line');
			const n = i + 1;
			li.dataset.line = String(n);
			li.querySelector('.code-num').textContent = String(n);
			li.querySelector('.code-text').textContent = line;
			const mark = marks.get(n);
			if (mark) {
				li.classList.add(`mark-${mark}`);
				li.dataset.mark = mark;
			}
			if (first && n === first.line.start) {
				byTestId('code-mark', li).textContent = 'first miss';
			}
			return li;
		}));
		byTestId('marked', card).hidden = false;
	}

	// columnOf works out a variant's figures as the server's comparison does,
	// so that they show as soon as the variant is done.
	function columnOf(v) {
		const col = { variant: v.name, sizeBytes: 0, compressedBytes: 0, coldMs: 0, rebuildMs: 0,
			stepsRerun: 0, stepsTotal: 0, hitRatio: 0 };
		for (const b of v.builds) {
			if (b.phase === 'cold') {
				col.coldMs = b.durationMs;
				continue;
			}
			col.rebuildMs = b.durationMs;
			col.stepsRerun = b.stepsRun;
			col.stepsTotal = b.stepsTotal;
			col.hitRatio = b.stepsTotal > 0 ? (b.stepsTotal - b.stepsRun) / b.stepsTotal : 0;
			if (b.image) {
				col.sizeBytes = b.image.sizeBytes;
				col.compressedBytes = b.image.compressedBytes;
			}
		}
		return col;
	}

	// ---- The figures side by side ------------------------------------------

	// Each row of the table: how to write a column's figure and its
	// difference from the first column, whether less is better, and below
	// what difference two figures count as the same: two builds of the same
	// steps differ by some tens of milliseconds, two images of the same files
	// by some bytes of metadata.
	const METRICS = {
		size: { value: (c) => c.sizeBytes, text: formatBytes, less: true, bytes: true, noise: 1024 },
		compressed: {
			value: (c) => c.compressedBytes, text: formatBytes, less: true, bytes: true, noise: 1024,
		},
		cold: { value: (c) => c.coldMs, text: formatMs, less: true, noise: 100 },
		rebuild: { value: (c) => c.rebuildMs, text: formatMs, less: true, noise: 100 },
		rerun: {
			value: (c) => c.stepsRerun,
			text: (n) => `${n}`,
			full: (c) => `${c.stepsRerun} of ${c.stepsTotal}`,
			delta: (d) => `${d} step${Math.abs(d) === 1 ? '' : 's'}`,
			less: true,
		},
		hits: {
			value: (c) => Math.round(c.hitRatio * 100),
			text: (n) => `${n}%`,
			delta: (d) => `${d} point${Math.abs(d) === 1 ? '' : 's'}`,
			less: false,
		},
	};

	// renderFigures redraws the table and the charts from the columns known
	// so far; a variant still building has an empty column.
	function renderFigures() {
		els.summaryHead.replaceChildren(els.summaryHead.firstElementChild, ...run.names.map((name) => {
			const th = fromTemplate('tpl-summary-head');
			th.textContent = title(name);
			th.dataset.variant = name;
			return th;
		}));
		const first = run.columns.get(run.names[0]);
		for (const tr of allByTestId('summary-row')) {
			const metric = METRICS[tr.dataset.metric];
			tr.replaceChildren(tr.firstElementChild, ...run.names.map((name, i) => {
				const td = fromTemplate('tpl-summary-cell');
				td.dataset.variant = name;
				const col = run.columns.get(name);
				const value = byTestId('summary-value', td);
				if (!col) {
					value.textContent = '…';
					value.classList.add('is-pending');
					return td;
				}
				if (metric.bytes) {
					showBytes(value, metric.value(col));
				} else {
					value.textContent = metric.full ? metric.full(col) : metric.text(metric.value(col));
				}
				value.dataset.value = String(metric.value(col));
				if (i > 0 && first) {
					showDelta(byTestId('summary-delta', td), metric, col, first);
				}
				return td;
			}));
		}
		renderCharts();
	}

	function showDelta(el, metric, col, first) {
		const d = metric.value(col) - metric.value(first);
		if (d === 0) {
			el.textContent = 'same';
			el.dataset.trend = 'same';
			return;
		}
		const size = metric.delta ? metric.delta(Math.abs(d)) : metric.text(Math.abs(d));
		el.textContent = `${d > 0 ? '+' : '−'}${size}`;
		el.dataset.trend = Math.abs(d) < (metric.noise || 0) ? 'same' :
			(d < 0) === metric.less ? 'better' : 'worse';
		el.title = `${d > 0 ? 'more' : 'less'} than ${title(first.variant)}`;
	}

	function renderCharts() {
		const cols = run.names.map((name) => run.columns.get(name)).filter(Boolean);
		const timeScale = Math.max(1, ...cols.flatMap((c) => [c.coldMs, c.rebuildMs]));
		const sizeScale = Math.max(1, ...cols.map((c) => c.sizeBytes));
		els.timeBars.replaceChildren(...cols.map((c) => barGroup(c, [
			['cold', c.coldMs, timeScale, formatMs(c.coldMs)],
			['rebuild', c.rebuildMs, timeScale, formatMs(c.rebuildMs)],
		])));
		els.sizeBars.replaceChildren(...cols.map((c) => barGroup(c, [
			['size', c.sizeBytes, sizeScale, formatBytes(c.sizeBytes)],
			['compressed', c.compressedBytes, sizeScale, formatBytes(c.compressedBytes)],
		])));
	}

	function barGroup(col, bars) {
		const group = fromTemplate('tpl-bar-group');
		group.dataset.variant = col.variant;
		byTestId('bar-group-name', group).textContent = title(col.variant);
		for (const [kind, value, scale, text] of bars) {
			const bar = fromTemplate('tpl-bar');
			bar.dataset.kind = kind;
			byTestId('bar-label', bar).textContent = kind;
			const fill = byTestId('bar-fill', bar);
			fill.classList.add(`bar-${kind}`);
			// A bar too short to see is drawn a hair long.
			fill.setAttribute('width', (value > 0 ? Math.max(4, (value / scale) * 1000) : 0).toFixed(1));
			byTestId('bar-value', bar).textContent = text;
			group.append(bar);
		}
		return group;
	}

	// showComparison takes the server's comparison: its columns replace
	// those worked out here, and its rows line the instructions up. A
	// variant that did not complete keeps its empty column.
	function showComparison(cmp) {
		for (const col of cmp.columns) {
			if (col.complete) {
				run.columns.set(col.variant, col);
			}
		}
		renderFigures();
		renderRows(cmp);
	}

	function renderRows(cmp) {
		els.rowsHead.replaceChildren(els.rowsHead.firstElementChild, ...cmp.columns.map((c) => {
			const th = fromTemplate('tpl-rows-head');
			th.textContent = title(c.variant);
			th.dataset.variant = c.variant;
			return th;
		}));
		els.rows.replaceChildren(...cmp.rows.map((row) => {
			const tr = fromTemplate('tpl-row');
			byTestId('row-instruction', tr).textContent = row.instruction;
			// Steps of stages with other names can share a row.
			const stages = new Set(row.cells.filter(Boolean).map((c) => c.stage));
			byTestId('row-stage', tr).textContent = Array.from(stages).join(' · ');
			tr.append(...row.cells.map((cell, i) => compareCell(cell, cmp.columns[i].variant)));
			return tr;
		}));
		els.rowsPanel.hidden = cmp.rows.length === 0;
	}

	function compareCell(cell, variant) {
		const td = fromTemplate('tpl-cell');
		td.dataset.variant = variant;
		td.dataset.label = title(variant); // where the narrow layout hides the head
		const outcome = byTestId('cell-outcome', td);
		if (!cell) {
			td.dataset.state = 'none';
			outcome.textContent = '—';
			td.title = run.failed.has(variant) ? `${title(variant)} did not finish its rebuild.` :
				`${title(variant)} has no such instruction.`;
			td.querySelector('details').replaceWith(outcome);
			return td;
		}
		td.dataset.state = cell.cached ? 'cached' : 'rerun';
		outcome.textContent = cell.cached ? 'cached' : 'ran again';
		byTestId('cell-duration', td).textContent = cell.cached ? '' : formatMs(cell.durationMs);
		byTestId('cell-first-miss', td).hidden = !cell.firstMiss;
		td.classList.toggle('is-first-miss', Boolean(cell.firstMiss));
		if (cell.reason) {
			td.dataset.kind = cell.reason.kind;
			byTestId('cell-kind', td).textContent = KIND_TEXT[cell.reason.kind] || cell.reason.kind;
			byTestId('cell-reason', td).textContent = reasonText(cell.reason);
			td.title = reasonText(cell.reason);
		}
		if (cell.line) {
			td.title += ` (${formatLines(cell.line)})`;
		}
		return td;
	}

	// ---- The end of the run ------------------------------------------------

	function finish(result) {
		clearInterval(run.ticker);
		setStatus(result.status);
		els.runDuration.textContent = formatMs(result.durationMs);
		els.runNow.textContent = result.status === 'succeeded' ?
			'Every variant is built and rebuilt; the figures below are final.' : '';
		if (result.error) {
			// The message starts with the variant's name; the page calls it
			// by its title.
			const name = run.names.find((n) => result.error.message.startsWith(`${n}, `));
			const message = name ?
				title(name) + result.error.message.slice(name.length) : result.error.message;
			// Other variants may have built: the failure is then one
			// outcome among the figures, not the end of the run.
			showFailure(run.columns.size > 0 ? 'Not every variant built' : 'The run failed', message);
		}
		// With no variant done there are no figures to show.
		els.results.hidden = run.columns.size === 0;
		for (const card of allByTestId('run-variant')) {
			const badge = byTestId('variant-status', card);
			const ended = ['succeeded', 'failed'].includes(badge.dataset.status);
			if (!card.hidden && !ended) {
				setBadge(badge, 'idle', result.status === 'failed' ? 'not finished' : 'waiting');
			}
		}
		els.runButton.disabled = false;
	}

	function showFailure(heading, message) {
		els.runError.hidden = false;
		els.runErrorTitle.textContent = heading;
		// Go errors start in lower case; the box reads as a sentence.
		els.runErrorMessage.textContent = message.charAt(0).toUpperCase() + message.slice(1);
	}

	function apply(ev) {
		if (ev.run) {
			applyBuild(ev.run, ev);
			return;
		}
		switch (ev.type) {
			case 'status':
				setStatus(ev.status);
				break;
			case 'variant':
				showVariant(ev.variant);
				break;
			case 'comparison':
				showComparison(ev.comparison);
				break;
			case 'result':
				finish(ev.result);
				break;
		}
	}

	// ---- Talking to the server ---------------------------------------------

	let stream = null; // the current run's event stream
	let runId = '';

	function followRun(path) {
		return follow(path, {
			event: apply,
			connected: () => {
				els.connection.hidden = true;
			},
			retrying: () => {
				els.connection.textContent = 'The connection dropped; reconnecting…';
				els.connection.hidden = false;
			},
			gaveUp: (result) => {
				els.connection.hidden = true;
				if (!result) {
					clearInterval(run.ticker);
					setStatus('failed');
					showFailure('The connection to the run was lost',
						'The server stopped answering. Press Run to try again.');
					els.runButton.disabled = false;
				}
			},
		});
	}

	async function startRun() {
		els.runFormError.hidden = true;
		let body;
		try {
			body = { variants: readVariants(), scenario: { changes: readChanges() } };
		} catch (err) {
			els.runFormError.textContent = err.message;
			els.runFormError.hidden = false;
			return;
		}
		if (stream) {
			stream.stop();
			stream = null;
			runId = '';
		}
		resetRun(body.variants, body.scenario.changes);
		setStatus('sending');
		els.runButton.disabled = true;
		if (els.run.getBoundingClientRect().top > window.innerHeight - 120) {
			els.run.scrollIntoView({ block: 'start' });
		}

		let answer;
		try {
			const res = await fetch('/api/runs', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify(body),
			});
			answer = await res.json().catch(() => ({}));
			if (!res.ok) {
				const message = answer.error || `The server answered ${res.status}.`;
				throw Object.assign(new Error(message), { refused: res.status < 500 });
			}
		} catch (err) {
			setStatus('failed');
			showFailure(err.refused ? 'The server refused the run' : 'The run could not start',
				err.message);
			// Nothing was built: no figures and no builds to show.
			els.results.hidden = true;
			els.runVariants.hidden = true;
			els.runButton.disabled = false;
			return;
		}
		runId = answer.id;
		stream = followRun(answer.events);
	}

	els.runForm.addEventListener('submit', (ev) => {
		ev.preventDefault();
		startRun();
	});

	// The browser tests read the counters and drop the socket on purpose.
	window.layerlab = {
		stats: () => ({
			runId,
			events: stream ? stream.events : 0,
			repeats: stream ? stream.repeats : 0,
			connects: stream ? stream.connects : 0,
			lastSeq: stream ? stream.lastSeq : 0,
			ended: stream ? stream.done : false,
		}),
		dropConnection: () => {
			if (stream) {
				stream.drop();
			}
		},
	};
})();
