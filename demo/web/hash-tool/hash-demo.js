// Demo page: sends the chosen file to the hashing Worker and shows what it reports.
// Everything displayed goes through textContent, never innerHTML.
(function () {
  'use strict';
  var fileInput = document.getElementById('file');
  var chunkSizeInput = document.getElementById('chunk-size');
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
          rows.appendChild(row);
        }
      } else if (m.type === 'done') {
        fileDigest.textContent = m.fileDigest;
        progress.value = progress.max;
        var mibps = m.elapsedMs > 0 ? (file.size / 1048576) / (m.elapsedMs / 1000) : 0;
        statusLine.textContent = 'Done: ' + file.name + ', ' + file.size + ' bytes in ' + m.chunkCount +
          ' chunks, ' + mibps.toFixed(0) + ' MiB/s.';
        document.body.dataset.state = 'done';
      } else if (m.type === 'error') {
        statusLine.textContent = 'Error: ' + m.message;
        document.body.dataset.state = 'error';
      }
    };
    worker.postMessage({ file: file, chunkSize: Math.round(Number(chunkSizeInput.value) * 1048576),
      forceChunkSize: forceInput.checked });
  }

  fileInput.addEventListener('change', start);
  chunkSizeInput.addEventListener('change', start);
  forceInput.addEventListener('change', start);
})();
