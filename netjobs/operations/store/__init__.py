"""The ``store`` job kind (storescu / dcmsend): archive instances, an upload or files under
an allowed server path, sent to a remote AE.

``sources`` finds what to send, ``planning`` plans the presentation contexts and splits them
over associations (at most 128 contexts each, like dcmsend), ``sending`` sends one planned
association and records each instance's outcome, ``kind`` is the job kind (parameters, form,
command lines, transfer report, retry of the failures)."""
