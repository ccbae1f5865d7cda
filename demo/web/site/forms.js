// Gives every upload on the demo's pages the session's CSRF token as a request header
// (X-CSRF-Token), which both upload endpoints require. configure({headers}) applies page-wide and is
// read at every request, so it does not matter whether the inputs are enhanced yet.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute('content') : '';
  window.ResumableWidget.configure({ headers: { 'X-CSRF-Token': token } });
})();
