// Demo page: sends the chosen file to the hashing Worker and shows what it reports.
// Everything displayed goes through textContent, never innerHTML.
(function () {
  'use strict';
  var fileInput = document.getElementById('file');
  var chunkSizeInput = document.getElementById('chunk-size');
  var chunkUnitInput = document.getElementById('chunk-unit');
  var forceInput = document.getElementById('force-chunk-size');
  var statusLine = document.getElementById('status');
  var progress = document.getElementById('progress');
  var fileDigest = document.getElementById('file-digest');
  var chunkCount = document.getElementById('chunk-count');
  var rows = document.querySelector('#chunks tbody');
  var worker = null;
  var MAX_ROWS = 2000;

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text;
    row.appendChild(td);
  }

  function start() {
    var file = fileInput.files[0];
    if (!file) return;
    if (worker) worker.terminate();
    worker = new Worker('/tools/hash/hash-worker.js');
    fileDigest.textContent = '';
    chunkCount.textContent = '';
    rows.textContent = '';
    progress.value = 0;
    progress.max = Math.max(1, file.size);
    statusLine.textContent = 'Hashing ' + file.name + '…';
    document.body.dataset.state = 'hashing';
    var shown = 0;
    worker.onmessage = function (event) {
      var m = event.data;
      if (m.type === 'geometry') {
        chunkCount.textContent = String(m.chunkCount);
      } else if (m.type === 'chunk') {
        progress.value = m.offset + m.size;
        if (shown++ < MAX_ROWS) {
          var row = document.createElement('tr');
          cell(row, String(m.number));
          cell(row, String(m.offset));
          cell(row, String(m.size));
          cell(row, m.digest);
          cell(row, m.rule === 'leaves' ? 'leaves' : 'bytes');
          rows.appendChild(row);
        }
      } else if (m.type === 'done') {
        fileDigest.textContent = m.fileDigest;
        progress.value = progress.max;
        var mibps = m.elapsedMs > 0 ? (file.size / 1048576) / (m.elapsedMs / 1000) : 0;
        statusLine.textContent = 'Done: ' + file.name + ', ' + file.size + ' bytes in ' + m.chunkCount +
          ' chunks (' + m.alignedChunks + ' from leaves, ' + (m.chunkCount - m.alignedChunks) + ' from bytes), ' +
          mibps.toFixed(0) + ' MiB/s.';
        document.body.dataset.state = 'done';
      } else if (m.type === 'error') {
        statusLine.textContent = 'Error: ' + m.message;
        document.body.dataset.state = 'error';
      }
    };
    worker.postMessage({ file: file, chunkSize: Math.round(Number(chunkSizeInput.value) * Number(chunkUnitInput.value)),
      forceChunkSize: forceInput.checked });
  }

  // Bytes make unaligned chunk sizes (resumable.js's default of 1,000,000) possible. The value is
  // converted so that switching the unit alone keeps the chunk size (and its 1 GiB cap).
  var unit = Number(chunkUnitInput.value);
  function unitChanged() {
    var newUnit = Number(chunkUnitInput.value);
    chunkSizeInput.max = String(1024 * 1048576 / newUnit);
    chunkSizeInput.value = String(Math.max(1, Math.round(Number(chunkSizeInput.value) * unit / newUnit)));
    unit = newUnit;
    start();
  }

  fileInput.addEventListener('change', start);
  chunkSizeInput.addEventListener('change', start);
  chunkUnitInput.addEventListener('change', unitChanged);
  forceInput.addEventListener('change', start);
})();
