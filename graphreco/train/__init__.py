"""Training: the loop over prebuilt minibatches (``loop``), the config runner behind
``graphreco train`` (``config``), and the domain-adversarial critic (``domain``)."""
